"""Composition root of the insights service."""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient

from services.insights import http, pages, survey_page
from services.insights.config import InsightsRules, load_config
from services.insights.handlers import outlets, register
from services.insights.service import SURVEY_ISSUER, InsightsService
from services.insights.settings import InsightsSettings
from services.insights.store import InsightsStore, MongoInsightsStore
from services.insights.timer_loop import follow_up_clock
from shared.access import access_for, token_keys
from shared.broker import make_broker
from shared.clock import Clock, SystemClock
from shared.consuming import ConsumerKit
from shared.directory import Directory, load_directory
from shared.idempotency import ProcessedEvents
from shared.mongo import Document, make_mongo_client
from shared.runtime import Service, new_http_app


def build_app(
    settings: InsightsSettings | None = None,
    *,
    broker: KafkaBroker | None = None,
    mongo: AsyncMongoClient[Document] | None = None,
    clock: Clock | None = None,
    store: InsightsStore | None = None,
    rules: InsightsRules | None = None,
    directory: Directory | None = None,
) -> Service:
    settings = settings or InsightsSettings()
    rules = rules or load_config(settings.config_dir)
    broker = broker or make_broker(settings)
    mongo = mongo or make_mongo_client(settings.mongo)
    clock = clock or SystemClock()
    db = mongo[settings.database_name]
    facts: InsightsStore = store or MongoInsightsStore(db)
    kit = ConsumerKit(broker, settings, ProcessedEvents(db))
    insights = InsightsService(
        facts,
        rules,
        clock,
        outlets(kit, settings),
        survey_keys=token_keys(settings, issuer=SURVEY_ISSUER),
        public_url=settings.public_url,
    )
    follow_ups = follow_up_clock(insights, poll_seconds=settings.follow_up_poll_seconds)
    insights.on_armed = follow_ups.armed
    register(kit, settings, insights)
    service = Service(
        settings=settings,
        broker=broker,
        mongo=mongo,
        http=new_http_app(
            "Help desk: insights",
            "One fact record per ticket, and the reports a support manager runs the team by.",
        ),
        kit=kit,
    )
    access = access_for(settings, directory or load_directory(settings.config_dir), clock)
    service.http.include_router(http.routes(insights, access))
    service.http.include_router(pages.routes(insights, access))
    survey_page.routes(service.http, insights, access, settings)
    service.require_indexes(*MongoInsightsStore.indexes())
    service.after_start.append(follow_ups.start)
    service.on_stop.append(follow_ups.stop)
    service.seal(access)
    return service
