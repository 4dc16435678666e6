"""Composition root of the routing service: wiring only."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path

from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient

from services.router import http
from services.router.classifier import TextClassifier, load_or_train
from services.router.config import Example, RouterConfig, load_config
from services.router.domain.rules import RoutingRules
from services.router.handlers import register
from services.router.service import RouterService, ScoreMany
from services.router.settings import RouterSettings
from services.router.store import MongoRoutingStore, RoutingStore
from services.router.triaging import Scores
from services.router.watch import Watchers
from shared.access import access_for
from shared.broker import make_broker
from shared.clock import Clock, SystemClock
from shared.consuming import ConsumerKit
from shared.events import AgentEvent, RoutingEvent
from shared.idempotency import Guard, ProcessedEvents
from shared.mongo import Document, make_mongo_client
from shared.runtime import Service, new_http_app


def build_app(
    settings: RouterSettings | None = None,
    *,
    broker: KafkaBroker | None = None,
    mongo: AsyncMongoClient[Document] | None = None,
    store: RoutingStore | None = None,
    guard: Guard | None = None,
    config: RouterConfig | None = None,
    rules: RoutingRules | None = None,
    scores: Scores | None = None,
    clock: Clock | None = None,
) -> Service:
    settings = settings or RouterSettings()
    # Every rule file is read and cross-checked here: a bad config stops the service at start.
    config = config or load_config(settings.config_dir, rules=rules)
    score_many: ScoreMany = (
        _one_by_one(scores)
        if scores
        else _model(settings.classifier_model, config.examples).scores_many
    )
    broker = broker or make_broker(settings)
    mongo = mongo or make_mongo_client(settings.mongo)
    db = mongo[settings.database_name]
    kit = ConsumerKit(broker, settings, guard or ProcessedEvents(db))
    routing = kit.publisher(
        settings.topics.routing,
        RoutingEvent,
        title="routing.decisions",
        description="Every routing decision: routed, assigned, queued, escalated, transferred.",
    )
    presence = kit.publisher(
        settings.topics.agents,
        AgentEvent,
        title="agent.presence_changed",
        description="Presence agents report over HTTP.",
    )
    router = RouterService(
        config=config,
        store=store or MongoRoutingStore(db),
        clock=clock or SystemClock(),
        score_many=score_many,
        routing=routing,
    )
    watchers = Watchers(router, sweep_seconds=settings.queue_sweep_seconds)
    router.dispatcher.on_deadline = watchers.wake
    register(kit, router)

    service = Service(
        settings=settings,
        broker=broker,
        mongo=mongo,
        http=new_http_app(
            "Help desk: router",
            "Categories, priority, tiers, skills- and load-aware assignment and team queues.",
        ),
        kit=kit,
    )
    access = access_for(settings, config.directory, clock)
    http.serve(service.http, router, presence.publish, access)
    service.require_indexes(*MongoRoutingStore.indexes())
    service.on_start.append(router.prepare)
    service.after_start.append(watchers.start)
    service.on_stop.insert(0, watchers.stop)
    service.seal(access)
    return service


@functools.cache
def _model(path: Path | None, examples: tuple[Example, ...]) -> TextClassifier:
    """One model per process for the same examples: apps built again (tests) reuse it."""
    return load_or_train(path, examples)


def _one_by_one(scores: Scores) -> ScoreMany:
    def score_many(texts: Sequence[str]) -> list[Mapping[str, float]]:
        return [scores(text) for text in texts]

    return score_many
