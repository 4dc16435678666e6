"""Composition root of the SLA service."""

from __future__ import annotations

from datetime import timedelta

from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient

from services.sla import http
from services.sla.config import load_config
from services.sla.domain.ticket import Rules
from services.sla.handlers import register, sla_publisher
from services.sla.partitions import PartitionListener
from services.sla.service import SlaService
from services.sla.settings import SlaSettings
from services.sla.state import SlaState
from services.sla.store import MongoSlaStore, SlaStore
from services.sla.timer import DeadlineHeap, TimerRunner
from shared.access import access_for
from shared.broker import make_broker
from shared.clock import Clock, SystemClock
from shared.consuming import ConsumerKit
from shared.directory import Directory, load_directory
from shared.idempotency import ProcessedEvents
from shared.mongo import Document, make_mongo_client
from shared.runtime import Service, new_http_app


def build_app(
    settings: SlaSettings | None = None,
    *,
    broker: KafkaBroker | None = None,
    mongo: AsyncMongoClient[Document] | None = None,
    clock: Clock | None = None,
    store: SlaStore | None = None,
    rules: Rules | None = None,
    directory: Directory | None = None,
) -> Service:
    settings = settings or SlaSettings()
    rules = rules or load_config(settings.config_dir)
    broker = broker or make_broker(settings)
    mongo = mongo or make_mongo_client(settings.mongo)
    clock = clock or SystemClock()
    db = mongo[settings.database_name]
    tickets: SlaStore = store or MongoSlaStore(db)
    kit = ConsumerKit(broker, settings, ProcessedEvents(db))

    async def on_due(ticket_id: str) -> None:
        await sla.fire(ticket_id)

    runner = TimerRunner(
        clock,
        DeadlineHeap(),
        on_due,
        retry_delay=timedelta(seconds=settings.retry_delay_seconds),
        fire_timeout=timedelta(seconds=settings.deadline_timeout_seconds),
    )
    state = SlaState(
        rules=rules,
        store=tickets,
        timer=runner,
        clock=clock,
        read_ahead=timedelta(seconds=settings.read_ahead_seconds),
    )
    sla = SlaService(state, sla_publisher(kit, settings), group_size=settings.kafka.max_batch)
    listener = PartitionListener(
        state,
        first_delay=timedelta(seconds=settings.load_retry_first_seconds),
        max_delay=timedelta(seconds=settings.load_retry_max_seconds),
    )
    register(kit, settings, sla, listener)
    service = Service(
        settings=settings,
        broker=broker,
        mongo=mongo,
        http=new_http_app(
            "Help desk: SLA",
            "Business-time SLA clocks per ticket, warnings and breaches on time, compliance.",
        ),
        kit=kit,
    )
    access = access_for(settings, directory or load_directory(settings.config_dir), clock)
    service.http.include_router(http.routes(sla, access))

    async def start_timer() -> None:
        runner.start()

    service.require_indexes(*MongoSlaStore.indexes())
    service.after_start.append(start_timer)
    # Stopped in reverse: the timer, then the saves its firings left under way, then loading.
    service.on_stop.append(listener.stop)
    service.on_stop.append(sla.stop)
    service.on_stop.append(runner.stop)
    service.seal(access)
    return service
