"""A deadline survives a restart: on the real broker, a new SLA instance loads and fires it once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from services.sla.app import build_app
from services.sla.settings import SlaSettings
from shared.broker import make_broker, publish_event
from shared.clock import SystemClock
from shared.events import SlaBreached, TicketRouted, sla_events
from tests.conftest import eventually

pytestmark = pytest.mark.integration


def _config(folder: Path) -> Path:
    (folder / "sla.yaml").write_text(
        "default: {first_response: PT10S, resolution: PT1H}\npriorities: {}\n", encoding="utf-8"
    )
    return folder


async def _read_all(bootstrap_servers: str, topic: str) -> list[dict[str, Any]]:
    """Every record on the topic up to its current end, read without a consumer group."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[dict[str, Any]] = []
    try:

        async def caught_up() -> bool:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(sla_events.validate_json(r.value).model_dump() for r in batch)
            assignment = consumer.assignment()
            if not assignment:
                return False
            ends = await consumer.end_offsets(list(assignment))
            return all([await consumer.position(tp) >= end for tp, end in ends.items()])

        await eventually(caught_up, timeout=20.0)
    finally:
        await consumer.stop()
    return records


async def test_breach_fires_once_when_the_service_restarts_before_the_deadline(
    make_settings: Any, tmp_path: Path
) -> None:
    settings = make_settings(SlaSettings, config_dir=_config(tmp_path))
    key = "t-restart:first_response"

    first = build_app(settings)
    await first.start()
    try:
        producer = make_broker(settings)
        await producer.start()
        routed = TicketRouted(
            ticket_id="t-restart",
            category="network",
            impact="low",
            urgency="low",
            priority="P4",
            tier="L1",
            team="network",
            reason="restart test",
        )
        await publish_event(producer, settings.topics.routing, routed)
        await producer.stop()
        clocks = first.db["clocks"]
        stored = await eventually(lambda: clocks.find_one({"_id": key}), timeout=30.0)
    finally:
        await first.stop()

    assert stored["status"] == "running"
    assert stored["partition"] in range(settings.kafka.partitions)
    assert SystemClock().now() < stored["due_at"], "the first instance outlived the deadline"

    second = build_app(settings)
    await second.start()
    try:

        async def breached() -> bool:
            doc = await second.db["clocks"].find_one({"_id": key})
            return doc is not None and doc["status"] == "breached"

        await eventually(breached, timeout=30.0)
    finally:
        await second.stop()

    records = await _read_all(settings.kafka.bootstrap_servers, settings.topics.sla)
    breaches = [
        r for r in records if r["event_type"] == SlaBreached.model_fields["event_type"].default
    ]
    assert len(breaches) == 1
    assert breaches[0]["metric"] == "first_response"
    assert breaches[0]["ticket_id"] == "t-restart"
