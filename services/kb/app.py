"""Composition root of the knowledge-base service."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from fastapi import HTTPException
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient

from services.kb import editor_http, http
from services.kb.analytics import Analytics
from services.kb.canned import CannedFile
from services.kb.config import KbRules
from services.kb.domain import ArticleFile
from services.kb.flows import SELF_HELP_ISSUER, Kb
from services.kb.handlers import register
from services.kb.keeper import IndexKeeper
from services.kb.search import SearchIndex
from services.kb.settings import KbSettings
from services.kb.store import KbStore
from shared.agent_tokens import AgentTokens, agent_dependency
from shared.broker import make_broker, publish_event
from shared.clock import Clock, SystemClock
from shared.config import load_yaml
from shared.directory import load_directory
from shared.events import Event
from shared.idempotency import ProcessedEvents
from shared.language import LanguageDetector
from shared.mongo import Document, make_mongo_client
from shared.runtime import Service, new_http_app


def build_app(
    settings: KbSettings | None = None,
    *,
    broker: KafkaBroker | None = None,
    mongo: AsyncMongoClient[Document] | None = None,
    clock: Clock | None = None,
    detector: LanguageDetector | None = None,
) -> Service:
    settings = settings or KbSettings()
    broker = broker or make_broker(settings)
    mongo = mongo or make_mongo_client(settings.mongo)
    clock = clock or SystemClock()
    db = mongo[settings.database_name]
    rules = load_yaml(settings.config_dir / "kb" / "kb.yaml", KbRules)
    directory = load_directory(settings.config_dir)
    store = KbStore(db)
    keep = timedelta(days=settings.search_log_days)
    analytics = Analytics(db, keep)
    keeper = IndexKeeper(SearchIndex(tuning=rules.search.tuning()), store, clock)
    secret = settings.agent_token_secret.get_secret_value() if settings.agent_token_secret else None

    async def publish(event: Event) -> None:
        await publish_event(broker, settings.topics.kb, event)

    kb = Kb(
        store=store,
        analytics=analytics,
        keeper=keeper,
        rules=rules,
        detector=detector or LanguageDetector(),
        publish=publish,
        clock=clock,
        self_help_tokens=AgentTokens(secret, issuer=SELF_HELP_ISSUER) if secret else None,
        public_url=settings.public_url,
        self_help_ttl=timedelta(days=settings.self_help_days),
    )
    register(broker, settings, kb, ProcessedEvents(db))
    service = Service(
        settings=settings,
        broker=broker,
        mongo=mongo,
        http=new_http_app(
            "Help desk: knowledge base",
            "Multilingual articles and search, self-help, canned responses and analytics.",
        ),
    )
    service.http.include_router(http.routes(kb))
    if secret:
        person = agent_dependency(AgentTokens(secret), clock)
    else:

        async def person() -> str:
            raise HTTPException(
                503, "no agent token secret configured (HELPDESK_AGENT_TOKEN_SECRET)"
            )

    service.http.include_router(editor_http.routes(kb, directory, person))

    async def load_seed() -> None:
        # Seed files add what is missing; what editors changed since is theirs.
        seed = load_yaml(settings.config_dir / "kb" / "articles.yaml", ArticleFile)
        now = clock.now()
        for article in seed.articles:
            stamp = {"created_by": "seed", "created_at": now, "updated_at": now}
            await store.create(article.model_copy(update=stamp))
        canned = load_yaml(settings.config_dir / "kb" / "canned.yaml", CannedFile)
        for response in canned.canned:
            await store.add_canned(response)
        await keeper.rebuild()

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

    service.require_indexes(*KbStore.indexes(), *Analytics.indexes(keep))
    service.on_start.append(load_seed)
    service.after_start.append(start_reconciling)
    service.on_stop.append(stop_reconciling)
    return service
