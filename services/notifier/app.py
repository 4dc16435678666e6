"""Composition root of the notifier service."""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient

from services.notifier import http
from services.notifier.email import EmailSender, SmtpEmailSender
from services.notifier.handlers import NotifierState, register
from services.notifier.push import PushHub
from services.notifier.settings import NotifierSettings
from services.notifier.store import DeliveryStore, MongoDeliveryStore
from shared.broker import make_broker
from shared.clock import Clock, SystemClock
from shared.directory import Directory, load_directory
from shared.idempotency import ProcessedEvents
from shared.mongo import Document, make_mongo_client
from shared.runtime import Service, new_http_app


def build_app(
    settings: NotifierSettings | None = None,
    *,
    broker: KafkaBroker | None = None,
    mongo: AsyncMongoClient[Document] | None = None,
    store: DeliveryStore | None = None,
    sender: EmailSender | None = None,
    hub: PushHub | None = None,
    directory: Directory | None = None,
    clock: Clock | None = None,
) -> Service:
    settings = settings or NotifierSettings()
    broker = broker or make_broker(settings)
    mongo = mongo or make_mongo_client(settings.mongo)
    db = mongo[settings.database_name]
    clock = clock or SystemClock()
    deliveries: DeliveryStore = store or MongoDeliveryStore(db, clock)
    state = NotifierState(
        directory=directory,
        processed=ProcessedEvents(db),
        deliveries=deliveries,
        sender=sender
        or SmtpEmailSender(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            timeout=settings.smtp_timeout,
            attempts=settings.smtp_attempts,
            backoff_seconds=settings.smtp_backoff_seconds,
        ),
        hub=hub or PushHub(),
        clock=clock,
    )
    register(broker, settings, state)
    service = Service(
        settings=settings,
        broker=broker,
        mongo=mongo,
        http=new_http_app(
            "Help desk: notifier", "Breach emails, live pushes to consoles, the delivery log."
        ),
    )
    service.http.include_router(http.routes(state.hub, deliveries, settings.push_secret))

    async def prepare() -> None:
        if state.directory is None:
            state.directory = load_directory(settings.config_dir)

    service.require_indexes(*MongoDeliveryStore.indexes())
    service.on_start.append(prepare)
    return service
