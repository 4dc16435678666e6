"""Composition root of the SLA service."""

from __future__ import annotations

from datetime import timedelta

from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient

from services.sla import http
from services.sla.handlers import fire_deadline, register
from services.sla.policies import SlaPolicies
from services.sla.settings import SlaSettings
from services.sla.state import SlaState
from services.sla.store import ClockStore, MongoClockStore
from services.sla.timer import DeadlineHeap, TimerRunner
from shared.broker import make_broker
from shared.clock import Clock, SystemClock
from shared.config import load_yaml
from shared.idempotency import ProcessedEvents
from shared.mongo import Document, make_mongo_client
from shared.runtime import Service, new_http_app


def build_app(
    settings: SlaSettings | None = None,
    *,
    broker: KafkaBroker | None = None,
    mongo: AsyncMongoClient[Document] | None = None,
    clock: Clock | None = None,
    store: ClockStore | None = None,
) -> Service:
    settings = settings or SlaSettings()
    broker = broker or make_broker(settings)
    mongo = mongo or make_mongo_client(settings.mongo)
    clock = clock or SystemClock()
    db = mongo[settings.database_name]
    clocks: ClockStore = store or MongoClockStore(db)
    policies = load_yaml(settings.config_dir / "sla.yaml", SlaPolicies)

    async def on_due(key: str) -> None:
        await fire_deadline(broker, settings, state, key)

    runner = TimerRunner(
        clock,
        DeadlineHeap(),
        on_due,
        retry_delay=timedelta(seconds=settings.retry_delay_seconds),
        fire_timeout=timedelta(seconds=settings.deadline_timeout_seconds),
    )
    state = SlaState(
        policies=policies,
        store=clocks,
        processed=ProcessedEvents(db),
        timer=runner,
        clock=clock,
    )
    listener = register(broker, settings, state)
    service = Service(
        settings=settings,
        broker=broker,
        mongo=mongo,
        http=new_http_app("Help desk: SLA", "Service-level clocks, met or breached on time."),
    )
    service.http.include_router(http.routes(clocks))

    async def start_timer() -> None:
        runner.start()

    service.require_indexes(*MongoClockStore.indexes())
    service.after_start.append(start_timer)
    service.on_stop.append(runner.stop)
    service.on_stop.append(listener.stop)
    return service
