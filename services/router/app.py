"""Composition root of the routing service."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import HTTPException
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient

from services.router import http
from services.router.classifier import TextClassifier, load_or_train
from services.router.desk import Desk
from services.router.domain.categories import CategoryTree, check_teams
from services.router.domain.rules import RoutingRules, check_rules
from services.router.domain.triage import TriageRules, load_triage
from services.router.flows import Flows
from services.router.handlers import RouterState, register
from services.router.settings import RouterSettings
from services.router.store import MongoRoutingStore, RoutingStore
from services.router.triaging import Scores
from services.router.watch import Watchers
from shared.agent_tokens import AgentTokens, agent_dependency
from shared.broker import make_broker, publish_event
from shared.business_calendar import Calendars, load_calendars
from shared.clock import Clock, SystemClock
from shared.config import load_yaml
from shared.directory import Directory, load_directory
from shared.events import AgentPresenceChanged, Event
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
    tree: CategoryTree | None = None,
    triage_rules: TriageRules | None = None,
    directory: Directory | None = None,
    calendars: Calendars | None = None,
    scores: Scores | None = None,
    clock: Clock | None = None,
) -> Service:
    settings = settings or RouterSettings()
    config = settings.config_dir
    # Every rule file is read and cross-checked here: a bad config stops the service at start.
    rules = rules or load_yaml(config / "routing.yaml", RoutingRules)
    tree = tree or load_yaml(config / "categories.yaml", CategoryTree)
    triage_rules = triage_rules or load_triage(config)
    directory = directory or load_directory(config)
    calendars = calendars or load_calendars(config)
    check_teams(tree, [t.name for t in directory.teams])
    check_rules(rules, directory, calendars.names, set(tree.teams))
    if scores is None:
        examples = config / tree.classification.examples_dir
        scores = _model(settings.classifier_model, examples, tree.labels).scores
    broker = broker or make_broker(settings)
    mongo = mongo or make_mongo_client(settings.mongo)
    db = mongo[settings.database_name]

    async def publish(event: Event) -> None:
        await publish_event(broker, settings.topics.routing, event)

    desk = Desk(
        rules=rules,
        directory=directory,
        calendars=calendars,
        store=store or MongoRoutingStore(db),
        publish=publish,
        clock=clock or SystemClock(),
    )
    flows = Flows(desk=desk, tree=tree, scores=scores, triage_rules=triage_rules)
    watchers = Watchers(flows, sweep_seconds=settings.queue_sweep_seconds)
    desk.on_deadline = watchers.wake
    register(broker, settings, RouterState(flows=flows, processed=ProcessedEvents(db)))

    async def publish_presence(event: AgentPresenceChanged) -> None:
        await publish_event(broker, settings.topics.agents, event)

    service = Service(
        settings=settings,
        broker=broker,
        mongo=mongo,
        http=new_http_app(
            "Help desk: router",
            "Categories, priority, tiers, skills- and load-aware assignment and team queues.",
        ),
    )
    service.http.include_router(http.routes(desk, publish_presence, _agents(settings)))
    service.require_indexes(*MongoRoutingStore.indexes())
    service.after_start.append(watchers.start)
    service.on_stop.insert(0, watchers.stop)
    return service


@functools.cache
def _model(path: Path | None, examples: Path, labels: tuple[str, ...]) -> TextClassifier:
    """One model per process for the same examples: apps built again (tests) reuse it."""
    return load_or_train(path, examples, labels)


def _agents(settings: RouterSettings) -> Callable[..., Awaitable[str]]:
    secret = settings.agent_token_secret
    if secret is not None and secret.get_secret_value():
        return agent_dependency(AgentTokens(secret.get_secret_value()))

    async def tokens_off() -> str:
        raise HTTPException(503, "agent tokens are not configured: set HELPDESK_AGENT_TOKEN_SECRET")

    return tokens_off
