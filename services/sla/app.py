"""Composition root of the SLA service."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient

from services.sla import http
from services.sla.domain import Rules
from services.sla.handlers import fire_ticket, register
from services.sla.policies import SlaPolicies, config_version
from services.sla.settings import SlaSettings
from services.sla.state import SlaState
from services.sla.store import MongoSlaStore, SlaStore
from services.sla.timer import DeadlineHeap, TimerRunner
from shared.broker import make_broker
from shared.business_calendar import load_calendars
from shared.clock import Clock, SystemClock
from shared.config import load_yaml
from shared.mongo import Document, make_mongo_client
from shared.runtime import Service, new_http_app

POLICY_FILES = ("sla.yaml", "calendars.yaml")


def load_rules(config_dir: Path) -> Rules:
    """Policies and calendars, and a version that changes whenever either file does."""
    texts = [(config_dir / name).read_text(encoding="utf-8") for name in POLICY_FILES]
    return Rules(
        policies=load_yaml(config_dir / "sla.yaml", SlaPolicies),
        calendars=load_calendars(config_dir),
        version=config_version(*texts),
    )


def build_app(
    settings: SlaSettings | None = None,
    *,
    broker: KafkaBroker | None = None,
    mongo: AsyncMongoClient[Document] | None = None,
    clock: Clock | None = None,
    store: SlaStore | None = None,
    rules: Rules | None = None,
) -> Service:
    settings = settings or SlaSettings()
    broker = broker or make_broker(settings)
    mongo = mongo or make_mongo_client(settings.mongo)
    clock = clock or SystemClock()
    db = mongo[settings.database_name]
    tickets: SlaStore = store or MongoSlaStore(db)

    async def on_due(ticket_id: str) -> None:
        await fire_ticket(broker, settings, state, ticket_id)

    runner = TimerRunner(
        clock,
        DeadlineHeap(),
        on_due,
        retry_delay=timedelta(seconds=settings.retry_delay_seconds),
        fire_timeout=timedelta(seconds=settings.deadline_timeout_seconds),
    )
    state = SlaState(
        rules=rules or load_rules(settings.config_dir),
        store=tickets,
        timer=runner,
        clock=clock,
        read_ahead=timedelta(seconds=settings.read_ahead_seconds),
    )
    listener = register(broker, settings, state)
    service = Service(
        settings=settings,
        broker=broker,
        mongo=mongo,
        http=new_http_app(
            "Help desk: SLA",
            "Business-time SLA clocks per ticket, warnings and breaches on time, compliance.",
        ),
    )
    service.http.include_router(http.routes(tickets, state.rules, clock))

    async def start_timer() -> None:
        runner.start()

    service.require_indexes(*MongoSlaStore.indexes())
    service.after_start.append(start_timer)
    service.on_stop.append(runner.stop)
    service.on_stop.append(listener.stop)
    return service
