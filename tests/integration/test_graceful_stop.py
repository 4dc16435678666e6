"""A service's readiness and its stop on the real broker: not ready until every consumer has
joined its group; a stop finishes the batch in hand and commits it within
`stop_timeout_seconds` (the consumer then leaves its group), and a stop that cannot finish (a
broker out of reach) still ends in its time."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared.access import access_for
from shared.broker import make_broker
from shared.consuming import Batch, ConsumerKit
from shared.directory import load_directory
from shared.events import TicketOpened
from shared.idempotency import MemoryGuard
from shared.mongo import make_mongo_client
from shared.runtime import Service, new_http_app
from shared.settings import KafkaSettings, ServiceSettings
from tests.conftest import eventually

pytestmark = pytest.mark.integration

STOP = 8.0


def opened(n: int) -> TicketOpened:
    return TicketOpened(ticket_id=f"t-{n}", reference=f"HD-{n:06d}", contact_id=f"c-{n}",
                        customer_id=f"cust-{n}", channel="email", language="en")  # fmt: skip


def slow_service(settings: ServiceSettings, handled: list[str], entered: asyncio.Event) -> Service:
    broker = make_broker(settings)
    kit = ConsumerKit(broker, settings, MemoryGuard())

    @kit.subscriber(settings.topics.tickets, name="stopping.slow", events=TicketOpened,
                    description="Takes a while over each batch.")  # fmt: skip
    async def slow(batch: Batch[TicketOpened]) -> None:
        entered.set()
        await asyncio.sleep(2)
        handled.extend(e.ticket_id or "" for e in batch.events)

    http = new_http_app("stopping", "A service that takes its time.")
    service = Service(settings, broker, make_mongo_client(settings.mongo), http, kit=kit)
    service.add_health_routes(access_for(settings, load_directory(settings.config_dir)))
    return service


def settings_for(make_settings: Any, **kafka: Any) -> ServiceSettings:
    base: ServiceSettings = make_settings(ServiceSettings, service_name="stopping")
    return base.model_copy(
        update={
            "stop_timeout_seconds": STOP,
            "kafka": KafkaSettings(bootstrap_servers=base.kafka.bootstrap_servers, **kafka),
        }
    )


async def test_not_ready_until_joined_and_a_stop_commits_the_batch_in_hand_and_leaves(
    make_settings: Any,
) -> None:
    settings = settings_for(make_settings, session_timeout_ms=6000, heartbeat_interval_ms=500)
    handled: list[str] = []
    entered = asyncio.Event()
    service = slow_service(settings, handled, entered)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=service.http), base_url="http://t")
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers)
    await producer.start()
    try:
        await service.start()
        early = await http.get("/health/ready")
        if early.status_code == 503:  # (the join may be done already on a quick broker)
            assert "consumer groups not joined yet: stopping.slow" in early.json()["detail"]

        async def ready() -> bool:
            return (await http.get("/health/ready")).status_code == 200

        await eventually(ready, timeout=30)
        for n in range(5):
            body = opened(n).model_dump_json().encode()
            await producer.send_and_wait(settings.topics.tickets, body, key=f"t-{n}".encode())
        await asyncio.wait_for(entered.wait(), timeout=30)
        started = time.monotonic()
        await service.stop()
        stopped_in = time.monotonic() - started
    finally:
        await producer.stop()
        await http.aclose()
    # The batch in hand was finished, not cancelled, and committed.
    assert stopped_in < STOP
    assert sorted(handled) == [f"t-{n}" for n in range(len(handled))] and handled
    # The group's committed offsets, read without joining it (partitions assigned by hand).
    reader = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        group_id=settings.consumer_group,
        enable_auto_commit=False,
    )
    await reader.start()
    try:
        partitions = reader.partitions_for_topic(settings.topics.tickets) or set()
        committed = [await reader.committed(TopicPartition(settings.topics.tickets, p))
                     for p in partitions]  # fmt: skip
    finally:
        await reader.stop()
    assert sum(c or 0 for c in committed) == len(handled)


async def test_a_stop_that_cannot_finish_still_ends_in_its_time(make_settings: Any) -> None:
    settings = settings_for(make_settings)
    service = slow_service(settings, [], asyncio.Event())
    await service.start()
    stuck = asyncio.Event()

    async def never_done() -> None:  # as a flush to a broker out of reach would
        stuck.set()
        await asyncio.Event().wait()

    service.on_stop.append(never_done)
    started = time.monotonic()
    await asyncio.wait_for(service.stop(), timeout=STOP * 2)  # (a stop without a bound hangs)
    took = time.monotonic() - started
    assert stuck.is_set() and STOP * 0.7 < took < STOP, took
