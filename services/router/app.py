"""Composition root of the routing service."""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient

from services.router import http
from services.router.domain import RoutingRules, check_teams
from services.router.handlers import RouterState, register
from services.router.settings import RouterSettings
from services.router.store import MongoRoutingStore, RoutingStore
from shared.broker import make_broker
from shared.config import load_yaml
from shared.directory import Directory, load_directory
from shared.idempotency import ProcessedEvents
from shared.mongo import Document, make_mongo_client
from shared.runtime import Service, new_http_app


def build_app(
    settings: RouterSettings | None = None,
    *,
    broker: KafkaBroker | None = None,
    mongo: AsyncMongoClient[Document] | None = None,
    store: RoutingStore | None = None,
    rules: RoutingRules | None = None,
    directory: Directory | None = None,
) -> Service:
    settings = settings or RouterSettings()
    # The rules are read and cross-checked here so a bad config stops the service before it starts.
    rules = rules or load_yaml(settings.config_dir / "routing.yaml", RoutingRules)
    directory = directory or load_directory(settings.config_dir)
    check_teams(rules, directory)
    broker = broker or make_broker(settings)
    mongo = mongo or make_mongo_client(settings.mongo)
    db = mongo[settings.database_name]
    state = RouterState(
        rules=rules,
        directory=directory,
        store=store or MongoRoutingStore(db),
        processed=ProcessedEvents(db),
    )
    register(broker, settings, state)
    service = Service(
        settings=settings,
        broker=broker,
        mongo=mongo,
        http=new_http_app("Help desk: router", "Classification, priority and agent assignment."),
    )
    service.http.include_router(http.routes(state))

    service.require_indexes(*MongoRoutingStore.indexes())
    return service
