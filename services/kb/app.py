"""Composition root of the knowledge-base service: wiring only."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient

from services.kb import http
from services.kb.config import KbConfig, load_config
from services.kb.handlers import register
from services.kb.keeper import IndexKeeper
from services.kb.outbox import Outbox
from services.kb.search import SearchIndex
from services.kb.service import SELF_HELP_ISSUER, KbService
from services.kb.settings import KbSettings
from services.kb.store import KbStore, MongoKbStore
from shared.access import access_for, token_keys
from shared.broker import make_broker
from shared.clock import Clock, SystemClock
from shared.consuming import ConsumerKit
from shared.idempotency import Guard, ProcessedEvents
from shared.language import LanguageDetector
from shared.mongo import Document, make_mongo_client
from shared.runtime import Service, new_http_app


def build_app(
    settings: KbSettings | None = None,
    *,
    store: KbStore | None = None,
    clock: Clock | None = None,
    broker: KafkaBroker | None = None,
    mongo: AsyncMongoClient[Document] | None = None,
    guard: Guard | None = None,
    config: KbConfig | None = None,
    detector: LanguageDetector | None = None,
) -> Service:
    settings = settings or KbSettings()
    clock = clock or SystemClock()
    config = config or load_config(settings.config_dir)
    # First, before any client: outside the local stack it refuses to start without a real
    # secret; on the local stack without one, people's routes and self-help links answer 503.
    access = access_for(settings, config.directory, clock)
    broker = broker or make_broker(settings)
    mongo = mongo or make_mongo_client(settings.mongo)
    db = mongo[settings.database_name]
    store = store or MongoKbStore(db)
    kit = ConsumerKit(broker, settings, guard or ProcessedEvents(db))
    keeper = IndexKeeper(SearchIndex(tuning=config.tuning), store, clock)
    kb = KbService(
        store=store,
        keeper=keeper,
        config=config,
        detector=detector or LanguageDetector(),
        out=Outbox.on(kit, settings.topics.kb),
        clock=clock,
        # Links are signed with the people's key under an issuer of their own (neither is
        # taken for the other), and outlive a rotation as people's tokens do.
        self_help_tokens=token_keys(settings, issuer=SELF_HELP_ISSUER),
        public_url=settings.public_url,
        self_help_ttl=timedelta(days=settings.self_help_days),
    )
    register(kit, kb)
    service = Service(
        settings=settings,
        broker=broker,
        mongo=mongo,
        http=new_http_app(
            "Help desk: knowledge base",
            "Multilingual articles and search, self-help, canned responses and analytics.",
        ),
        kit=kit,
    )
    http.serve(service.http, kb, access, settings)

    reconciling: list[asyncio.Task[None]] = []

    async def start_reconciling() -> None:
        # Changes made while this replica's consumer joined its group have no event it reads.
        await keeper.reconcile()
        reconciling.append(asyncio.create_task(keeper.keep_reconciling(settings.reconcile_seconds)))

    async def stop_reconciling() -> None:
        for task in reconciling:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    service.require_indexes(*MongoKbStore.indexes(timedelta(days=settings.search_log_days)))
    service.on_start.append(kb.seed)
    service.after_start.append(start_reconciling)
    service.on_stop.append(stop_reconciling)
    # Last: adds the health and metrics routes, and refuses a route that states no rule.
    service.seal(access)
    return service
