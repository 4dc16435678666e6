"""Composition root of the notifier service."""

from __future__ import annotations

import random

from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient

from services.notifier import console, http
from services.notifier.board_store import BoardStore
from services.notifier.email import EmailSender, SmtpEmailSender
from services.notifier.escalations import Escalations
from services.notifier.flows import Flows
from services.notifier.handlers import register
from services.notifier.ladders import check_against, load_notifier_config
from services.notifier.live import Live
from services.notifier.outbox import Outbox
from services.notifier.push import PushHub
from services.notifier.settings import NotifierSettings
from services.notifier.watch import LadderClock
from services.notifier.webhook_store import WebhookStore
from services.notifier.webhooks import WebhookSender
from services.notifier.worker import Deliveries
from shared.agent_tokens import AgentTokens
from shared.broker import make_broker
from shared.business_calendar import load_calendars
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
    sender: EmailSender | None = None,
    webhook_sender: WebhookSender | None = None,
    hub: PushHub | None = None,
    directory: Directory | None = None,
    clock: Clock | None = None,
    rng: random.Random | None = None,
) -> Service:
    settings = settings or NotifierSettings()
    broker = broker or make_broker(settings)
    mongo = mongo or make_mongo_client(settings.mongo)
    db = mongo[settings.database_name]
    clock = clock or SystemClock()
    directory = directory or load_directory(settings.config_dir)
    calendars = load_calendars(settings.config_dir)
    config = load_notifier_config(settings.config_dir)
    check_against(config, directory, calendars=calendars)
    hub = hub or PushHub()
    outbox, escalations, board = Outbox(db), Escalations(db), BoardStore(db)
    webhooks = WebhookStore(db)
    flows = Flows(
        broker=broker,
        settings=settings,
        config=config,
        directory=directory,
        calendars=calendars,
        outbox=outbox,
        escalations=escalations,
        board=board,
        webhooks=webhooks,
        clock=clock,
    )
    webhook_sender = webhook_sender or WebhookSender(timeout=settings.webhook_timeout)
    deliveries = Deliveries(
        outbox=outbox,
        email=sender
        or SmtpEmailSender(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            timeout=settings.smtp_timeout,
            # The outbox retries with backoff; one try per take keeps the worker's slot short.
            attempts=1,
            backoff_seconds=0,
        ),
        webhooks=webhook_sender,
        targets=webhooks,
        broker=broker,
        settings=settings,
        clock=clock,
        rng=rng,
    )
    ladders = LadderClock(flows, poll_seconds=settings.poll_seconds)

    def more_work() -> None:
        deliveries.wake()
        ladders.wake()

    flows.on_work = more_work
    live = Live(hub, board, escalations, directory)
    register(broker, settings, flows, live, ProcessedEvents(db))
    service = Service(
        settings=settings,
        broker=broker,
        mongo=mongo,
        http=new_http_app(
            "Help desk: notifier",
            "Escalation ladders over email, live push and chat webhooks; the agent console.",
        ),
    )
    secret = settings.agent_token_secret
    api = http.Api(
        tokens=AgentTokens(secret.get_secret_value()) if secret else None,
        clock=clock,
        hub=hub,
        board=board,
        escalations=escalations,
        outbox=outbox,
        webhooks=webhooks,
        flows=flows,
    )
    service.http.include_router(http.routes(api))
    console.mount(service.http)
    service.require_indexes(*Outbox.indexes(), *Escalations.indexes(), *BoardStore.indexes())
    service.after_start += [deliveries.start, ladders.start]
    service.on_stop[:0] = [ladders.stop, deliveries.stop, webhook_sender.aclose]
    return service
