"""Composition root of the notifier service: wiring only."""

from __future__ import annotations

import random

from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient

from services.notifier import console, http
from services.notifier.config import load_config
from services.notifier.domain.addresses import AddressPolicy
from services.notifier.egress import AddressGuard, Resolver, system_resolver
from services.notifier.email import EmailSender, SmtpEmailSender
from services.notifier.handlers import register
from services.notifier.live import Live
from services.notifier.publishers import publishers
from services.notifier.push import PushHub
from services.notifier.service import NotifierService
from services.notifier.settings import NotifierSettings
from services.notifier.store import MongoNotifierStore, NotifierStore
from services.notifier.watch import ladder_clock
from services.notifier.webhooks import WebhookSender
from services.notifier.worker import Deliveries
from shared.access import access_for
from shared.broker import make_broker
from shared.clock import Clock, SystemClock
from shared.consuming import ConsumerKit
from shared.directory import Directory
from shared.idempotency import ProcessedEvents
from shared.mongo import Document, make_mongo_client
from shared.runtime import Service, new_http_app


def build_app(
    settings: NotifierSettings | None = None,
    *,
    broker: KafkaBroker | None = None,
    mongo: AsyncMongoClient[Document] | None = None,
    store: NotifierStore | None = None,
    kit: ConsumerKit | None = None,
    sender: EmailSender | None = None,
    webhook_sender: WebhookSender | None = None,
    hub: PushHub | None = None,
    directory: Directory | None = None,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    resolver: Resolver | None = None,
) -> Service:
    settings = settings or NotifierSettings()
    broker = broker or (kit.broker if kit else make_broker(settings))
    mongo = mongo or make_mongo_client(settings.mongo)
    db = mongo[settings.database_name]
    clock = clock or SystemClock()
    rules = load_config(settings.config_dir, directory=directory)
    # Refuses to start outside the local stack without a real token secret.
    access = access_for(settings, rules.directory, clock)
    kit = kit or ConsumerKit(broker, settings, ProcessedEvents(db))
    out = publishers(kit, settings.topics)
    hub = hub or PushHub()
    store = store if store is not None else MongoNotifierStore(db)
    # One guard for registering webhooks and for every connection a webhook call opens.
    guard = AddressGuard(AddressPolicy.of(rules.ladders.webhooks), resolver or system_resolver)
    service = NotifierService(
        store=store, rules=rules, publishers=out, clock=clock, addresses=guard
    )
    webhook_sender = webhook_sender or WebhookSender(guard, timeout=settings.webhook_timeout)
    deliveries = Deliveries(
        store=store,
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
        publishers=out,
        settings=settings,
        clock=clock,
        rng=rng,
    )
    ladders = ladder_clock(service, poll_seconds=settings.poll_seconds)

    service.on_work = deliveries.offer
    service.on_ladders = ladders.wake
    live = Live(
        hub, store, rules.directory, delivered=out.delivered, replica_id=settings.replica_id
    )
    register(kit, settings, service, live)
    running = Service(
        settings=settings,
        broker=broker,
        mongo=mongo,
        http=new_http_app(
            "Help desk: notifier",
            "Escalation ladders over email, live push and chat webhooks; the agent console.",
        ),
        kit=kit,
    )
    http.mount(
        running.http,
        http.Api(access=access, hub=hub, service=service, public_url=settings.public_url),
    )
    console.mount(running.http, access)
    if isinstance(store, MongoNotifierStore):
        running.require_indexes(*store.indexes())
    running.after_start += [deliveries.start, ladders.start]
    running.on_stop[:0] = [ladders.stop, deliveries.stop, webhook_sender.aclose]
    # Last: health and metrics routes, and a refusal to build if any route states no rule.
    running.seal(access)
    return running
