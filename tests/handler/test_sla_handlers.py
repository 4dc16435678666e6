"""The SLA subscriber and its deadlines, run in memory with TestKafkaBroker on the real MongoDB."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from faststream.kafka import KafkaBroker, TestKafkaBroker

from services.sla.app import build_app
from services.sla.settings import SlaSettings
from shared.events import (
    Event,
    SlaBreached,
    SlaEvent,
    SlaMet,
    SlaStarted,
    TicketAgentReplied,
    TicketRouted,
    TicketStatusChanged,
    sla_events,
)
from shared.runtime import Service
from tests.conftest import eventually


def _routed(ticket_id: str = "t-1", priority: Any = "P2") -> TicketRouted:
    return TicketRouted(
        ticket_id=ticket_id,
        category="network",
        impact="medium",
        urgency="high",
        priority=priority,
        tier="L1",
        team="network",
        reason="wifi drops",
        correlation_id="c-1",
    )


def _replied(ticket_id: str = "t-1") -> TicketAgentReplied:
    return TicketAgentReplied(ticket_id=ticket_id, agent_id="a-1", body="Restart the router")


def _status(status: Any, ticket_id: str = "t-1") -> TicketStatusChanged:
    return TicketStatusChanged(ticket_id=ticket_id, status=status, agent_id="a-1")


def _config(folder: Path, first_response: str, resolution: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sla.yaml").write_text(
        f"default: {{first_response: {first_response}, resolution: {resolution}}}\n"
        f"priorities: {{}}\n",
        encoding="utf-8",
    )
    return folder


@asynccontextmanager
async def _running(
    settings: SlaSettings, captured: list[SlaEvent]
) -> AsyncIterator[tuple[Service, KafkaBroker]]:
    service = build_app(settings)
    for hook in service.on_start:
        await hook()

    @service.broker.subscriber(settings.topics.sla)
    async def capture(body: dict[str, Any]) -> None:
        captured.append(sla_events.validate_python(body))

    async with TestKafkaBroker(service.broker) as broker:
        for hook in service.after_start:
            await hook()
        try:
            yield service, broker
        finally:
            for hook in service.on_stop:
                await hook()
    await service.mongo.close()


async def _publish(broker: KafkaBroker, topic: str, event: Event) -> None:
    await broker.publish(event.model_dump(mode="json"), topic, key=event.kafka_key())


async def test_routed_ticket_starts_two_clocks_once_even_when_redelivered(
    make_settings: Any,
) -> None:
    settings = make_settings(SlaSettings)
    captured: list[SlaEvent] = []
    routed = _routed()
    async with _running(settings, captured) as (service, broker):
        await _publish(broker, settings.topics.routing, routed)
        await _publish(broker, settings.topics.routing, routed)
        assert await service.db["clocks"].count_documents({"ticket_id": "t-1"}) == 2

        transport = httpx.ASGITransport(app=service.http)
        async with httpx.AsyncClient(transport=transport, base_url="http://sla") as client:
            found = await client.get("/tickets/t-1/sla")
            missing = await client.get("/tickets/nope/sla")

    assert [(type(e), e.metric) for e in captured] == [
        (SlaStarted, "first_response"),
        (SlaStarted, "resolution"),
    ]
    assert all(e.causation_id == str(routed.event_id) for e in captured)
    assert found.status_code == 200
    assert [c["status"] for c in found.json()["clocks"]] == ["running", "running"]
    assert missing.status_code == 404
    assert "nope" in missing.json()["detail"]


async def test_reply_within_target_meets_first_response(make_settings: Any) -> None:
    settings = make_settings(SlaSettings)
    captured: list[SlaEvent] = []
    replied = _replied()
    async with _running(settings, captured) as (service, broker):
        await _publish(broker, settings.topics.routing, _routed())
        await _publish(broker, settings.topics.tickets, replied)
        clock = await service.db["clocks"].find_one({"_id": "t-1:first_response"})

    met = [e for e in captured if isinstance(e, SlaMet)]
    assert len(met) == 1
    assert met[0].metric == "first_response"
    assert met[0].causation_id == str(replied.event_id)
    assert met[0].used_seconds < 5
    assert clock is not None and clock["status"] == "met"


async def test_reply_before_routing_meets_first_response_when_clocks_start(
    make_settings: Any,
) -> None:
    settings = make_settings(SlaSettings)
    captured: list[SlaEvent] = []
    async with _running(settings, captured) as (_service, broker):
        await _publish(broker, settings.topics.tickets, _replied())
        assert captured == []
        await _publish(broker, settings.topics.routing, _routed())

    assert [(e.event_type, e.metric) for e in captured] == [
        ("sla.started", "first_response"),
        ("sla.met", "first_response"),
        ("sla.started", "resolution"),
    ]


async def test_missed_first_response_breaches_once_at_its_deadline(
    make_settings: Any, tmp_path: Path
) -> None:
    settings = make_settings(SlaSettings, config_dir=_config(tmp_path, "PT1S", "PT1H"))
    captured: list[SlaEvent] = []
    async with _running(settings, captured) as (service, broker):
        await _publish(broker, settings.topics.routing, _routed())

        async def breached() -> bool:
            doc = await service.db["clocks"].find_one({"_id": "t-1:first_response"})
            return doc is not None and doc["status"] == "breached"

        await eventually(breached, timeout=5.0)

    breaches = [e for e in captured if isinstance(e, SlaBreached)]
    assert len(breaches) == 1
    (breach,) = breaches
    assert breach.metric == "first_response"
    assert breach.colour == "red"
    assert breach.correlation_id == "c-1"
    assert breach.occurred_at >= breach.due_at
    assert 0 <= breach.late_by_seconds < 1, breach.late_by_seconds


async def test_resolution_before_routing_meets_both_clocks_when_they_start(
    make_settings: Any,
) -> None:
    settings = make_settings(SlaSettings)
    captured: list[SlaEvent] = []
    routed = _routed()
    async with _running(settings, captured) as (service, broker):
        await _publish(broker, settings.topics.tickets, _status("resolved"))
        await _publish(broker, settings.topics.tickets, _status("closed"))
        assert captured == []
        await _publish(broker, settings.topics.routing, routed)
        statuses = {
            doc["metric"]: doc["status"]
            async for doc in service.db["clocks"].find({"ticket_id": "t-1"})
        }
        armed = await service.db["clocks"].count_documents({"status": "running"})

    assert [(e.event_type, e.metric) for e in captured] == [
        ("sla.started", "first_response"),
        ("sla.met", "first_response"),
        ("sla.started", "resolution"),
        ("sla.met", "resolution"),
    ]
    assert all(e.causation_id == str(routed.event_id) for e in captured)
    assert statuses == {"first_response": "met", "resolution": "met"}
    assert armed == 0


async def test_ticket_reopened_before_routing_starts_running_clocks(make_settings: Any) -> None:
    settings = make_settings(SlaSettings)
    captured: list[SlaEvent] = []
    async with _running(settings, captured) as (service, broker):
        await _publish(broker, settings.topics.tickets, _status("resolved"))
        await _publish(broker, settings.topics.tickets, _status("reopened"))
        await _publish(broker, settings.topics.routing, _routed())
        statuses = [doc["status"] async for doc in service.db["clocks"].find({"ticket_id": "t-1"})]

    assert [e.event_type for e in captured] == ["sla.started", "sla.started"]
    assert statuses == ["running", "running"]
