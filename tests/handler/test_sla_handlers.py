"""The SLA subscriber and its deadlines, run in memory with TestKafkaBroker on the real MongoDB."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaBroker, TestKafkaBroker

from devstack.sla_config import write_fast_sla
from services.sla.app import build_app
from services.sla.settings import SlaSettings
from shared.agent_tokens import TokenKeys
from shared.events import (
    Event,
    SlaBreached,
    SlaEvent,
    SlaMet,
    SlaPaused,
    SlaRecomputed,
    SlaResumed,
    SlaStarted,
    SlaWarning,
    TicketAgentReplied,
    TicketAssigned,
    TicketOpened,
    TicketRouted,
    TicketStatusChanged,
    sla_events,
)
from shared.mongo import DB_COMMANDS
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
        team="technical",
        reason="wifi drops",
        correlation_id="c-1",
    )


def _replied(ticket_id: str = "t-1") -> TicketAgentReplied:
    return TicketAgentReplied(ticket_id=ticket_id, agent_id="a-1", body="Restart the router")


def _status(status: Any, ticket_id: str = "t-1") -> TicketStatusChanged:
    return TicketStatusChanged(ticket_id=ticket_id, status=status, agent_id="a-1")


def _config(folder: Path, first_response: str, resolution: str) -> Path:
    return write_fast_sla(folder, first_response=first_response, resolution=resolution)


async def _ticket(service: Service, ticket_id: str = "t-1") -> dict[str, Any]:
    doc = await service.db["tickets"].find_one({"_id": ticket_id})
    assert doc is not None, f"no SLA record of {ticket_id}"
    return doc


def _statuses(doc: dict[str, Any]) -> dict[str, str]:
    """Each target's status, as the HTTP API names it."""
    out = {}
    for c in doc["clocks"]:
        if c["breached_at"] is not None:
            out[c["metric"]] = "breached"
        elif c["satisfied_at"] is not None:
            out[c["metric"]] = "met"
        else:
            out[c["metric"]] = "running" if c["running_since"] is not None else "paused"
    return out


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


SECRET = "a-test-secret-that-is-long-enough-for-hs256"


def _as(person: str) -> dict[str, str]:
    token = TokenKeys(SECRET).issue(person, ttl=timedelta(hours=1), now=datetime.now(UTC))
    return {"Authorization": f"Bearer {token}"}


async def _publish(broker: KafkaBroker, topic: str, event: Event) -> None:
    await broker.publish(event.model_dump(mode="json"), topic, key=event.kafka_key())


async def test_routed_ticket_starts_two_clocks_once_even_when_redelivered(
    make_settings: Any,
) -> None:
    settings = make_settings(SlaSettings, agent_token_secret=SECRET)
    captured: list[SlaEvent] = []
    routed = _routed()
    async with _running(settings, captured) as (service, broker):
        await _publish(broker, settings.topics.routing, routed)
        await _publish(broker, settings.topics.routing, routed)
        doc = await _ticket(service)

        transport = httpx.ASGITransport(app=service.http)
        async with httpx.AsyncClient(transport=transport, base_url="http://sla") as client:
            found = await client.get("/tickets/t-1/sla", headers=_as("ag-nika"))
            missing = await client.get("/tickets/nope/sla", headers=_as("ag-nika"))
            anonymous = await client.get("/tickets/t-1/sla")
            other_team = await client.get("/tickets/t-1/sla", headers=_as("ag-john"))
    assert anonymous.status_code == 401
    # Another team's ticket reads as one that does not exist.
    assert other_team.status_code == 404 and "t-1" in other_team.json()["detail"]

    assert [(type(e), e.metric) for e in captured] == [
        (SlaStarted, "first_response"),
        (SlaStarted, "resolution"),
    ]
    assert all(e.causation_id == str(routed.event_id) for e in captured)
    assert _statuses(doc) == {"first_response": "running", "resolution": "running"}
    assert doc["next_at"] is not None
    assert found.status_code == 200
    body = found.json()
    assert [c["status"] for c in body["clocks"]] == ["running", "running"]
    assert body["colour"] == "green"
    assert body["policy"] == "high"  # the shipped P2 policy
    assert missing.status_code == 404
    assert "nope" in missing.json()["detail"]


async def test_reply_within_target_meets_first_response(make_settings: Any) -> None:
    settings = make_settings(SlaSettings)
    captured: list[SlaEvent] = []
    replied = _replied()
    async with _running(settings, captured) as (service, broker):
        await _publish(broker, settings.topics.routing, _routed())
        await _publish(broker, settings.topics.tickets, replied)
        doc = await _ticket(service)
        results = await service.db["results"].find({}).to_list()

    met = [e for e in captured if isinstance(e, SlaMet)]
    assert len(met) == 1
    assert met[0].metric == "first_response"
    assert met[0].causation_id == str(replied.event_id)
    assert met[0].used_seconds < 5
    assert _statuses(doc)["first_response"] == "met"
    assert [(r["metric"], r["outcome"]) for r in results] == [("first_response", "met")]


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
        ("sla.started", "resolution"),
        ("sla.met", "first_response"),
    ]


async def test_missed_first_response_warns_up_the_ladder_then_breaches_once(
    make_settings: Any, tmp_path: Path
) -> None:
    settings = make_settings(SlaSettings, config_dir=_config(tmp_path, "PT2S", "PT1H"))
    captured: list[SlaEvent] = []
    async with _running(settings, captured) as (service, broker):
        await _publish(broker, settings.topics.routing, _routed())

        async def breached() -> bool:
            return _statuses(await _ticket(service))["first_response"] == "breached"

        await eventually(breached, timeout=6.0)

    warnings = [e for e in captured if isinstance(e, SlaWarning)]
    assert [(w.level_percent, w.colour) for w in warnings] == [
        (50, "green"),
        (75, "amber"),
        (90, "red"),
    ]
    assert [round(w.remaining_seconds, 1) for w in warnings] == [1.0, 0.5, 0.2]
    breaches = [e for e in captured if isinstance(e, SlaBreached)]
    assert len(breaches) == 1
    (breach,) = breaches
    assert breach.metric == "first_response"
    assert breach.colour == "red"
    assert breach.correlation_id == "c-1"
    assert breach.occurred_at >= breach.due_at
    assert 0 <= breach.late_by_seconds < 1, breach.late_by_seconds
    assert all(w.occurred_at < breach.occurred_at for w in warnings)


async def test_pending_on_the_customer_pauses_and_reopening_resumes_with_the_time_added(
    make_settings: Any, tmp_path: Path
) -> None:
    settings = make_settings(SlaSettings, config_dir=_config(tmp_path, "PT1H", "PT2H"))
    captured: list[SlaEvent] = []
    async with _running(settings, captured) as (service, broker):
        await _publish(broker, settings.topics.routing, _routed())
        await _publish(broker, settings.topics.tickets, _status("pending"))
        paused = await _ticket(service)
        await _publish(broker, settings.topics.tickets, _status("open"))
        resumed = await _ticket(service)

    assert {c["metric"]: c["running_since"] for c in paused["clocks"]} == {
        "first_response": None,
        "resolution": None,
    }
    assert paused["next_at"] is None
    assert [e.metric for e in captured if isinstance(e, SlaPaused)] == [
        "first_response",
        "resolution",
    ]
    started = {e.metric: e.due_at for e in captured if isinstance(e, SlaStarted)}
    moved = {e.metric: e.due_at for e in captured if isinstance(e, SlaResumed)}
    assert moved.keys() == {"first_response", "resolution"}
    for metric, due in moved.items():
        first = started[metric]
        assert first is not None and due >= first
    assert resumed["next_at"] is not None


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
        doc = await _ticket(service)

    assert [(e.event_type, e.metric) for e in captured] == [
        ("sla.started", "first_response"),
        ("sla.started", "resolution"),
        ("sla.met", "first_response"),
        ("sla.met", "resolution"),
    ]
    assert all(e.causation_id == str(routed.event_id) for e in captured)
    assert _statuses(doc) == {"first_response": "met", "resolution": "met"}
    assert doc["next_at"] is None


async def test_ticket_reopened_before_routing_starts_running_clocks(make_settings: Any) -> None:
    settings = make_settings(SlaSettings)
    captured: list[SlaEvent] = []
    async with _running(settings, captured) as (service, broker):
        await _publish(broker, settings.topics.tickets, _status("resolved"))
        await _publish(broker, settings.topics.tickets, _status("reopened"))
        await _publish(broker, settings.topics.routing, _routed())
        doc = await _ticket(service)

    assert [e.event_type for e in captured] == ["sla.started", "sla.started"]
    assert _statuses(doc) == {"first_response": "running", "resolution": "running"}


async def test_compliance_reports_met_and_breached_targets_per_metric_and_team(
    make_settings: Any, tmp_path: Path
) -> None:
    settings = make_settings(
        SlaSettings, config_dir=_config(tmp_path, "PT1S", "PT1H"), agent_token_secret=SECRET
    )
    captured: list[SlaEvent] = []
    async with _running(settings, captured) as (service, broker):
        await _publish(broker, settings.topics.routing, _routed("t-late"))
        await _publish(broker, settings.topics.routing, _routed("t-quick"))
        await _publish(broker, settings.topics.tickets, _replied("t-quick"))

        async def late_breached() -> bool:
            return _statuses(await _ticket(service, "t-late"))["first_response"] == "breached"

        await eventually(late_breached, timeout=5.0)
        await _publish(broker, settings.topics.tickets, _replied("t-late"))
        transport = httpx.ASGITransport(app=service.http)
        async with httpx.AsyncClient(transport=transport, base_url="http://sla") as client:
            report = await client.get(
                "/compliance", params={"period": "all"}, headers=_as("ops-rin")
            )
            agent = await client.get("/compliance", headers=_as("ag-nika"))
            elsewhere = await client.get(
                "/compliance", params={"team": "accounts"}, headers=_as("lead-technical")
            )
            first = await client.get(
                "/compliance",
                params={"metric": "first_response", "team": "technical"},
                headers=_as("lead-technical"),
            )
            bad = await client.get(
                "/compliance",
                params={"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
                headers=_as("ops-rin"),
            )

    assert report.status_code == 200, report.text
    (group,) = report.json()["groups"]
    assert (group["metric"], group["team"], group["priority"]) == (
        "first_response",
        "technical",
        "P2",
    )
    assert (group["total"], group["met"], group["breached"]) == (2, 1, 1)
    assert group["percent_met"] == 50.0
    assert group["awaiting"] == 0
    assert group["median_used_seconds"] < 1 <= group["p90_used_seconds"]
    assert len(first.json()["groups"]) == 1
    assert agent.status_code == 403 and elsewhere.status_code == 403
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["type"] == "bad_window"
    assert "before" in bad.json()["detail"][0]["msg"]


async def test_compliance_takes_written_out_dates_only(make_settings: Any, tmp_path: Path) -> None:
    """A number is not a date (pydantic alone reads `0.5` as 1970), nor is a year far off."""
    settings = make_settings(
        SlaSettings, config_dir=_config(tmp_path, "PT1S", "PT1H"), agent_token_secret=SECRET
    )
    refused = ["0.5", "1700000000", "2026-01-05", "1900-01-01T00:00:00Z", "2026-01-05T09:00:00"]
    async with _running(settings, []) as (service, _):
        transport = httpx.ASGITransport(app=service.http)
        async with httpx.AsyncClient(transport=transport, base_url="http://sla") as client:
            answers = {
                value: await client.get(
                    "/compliance", params={"until": value}, headers=_as("ops-rin")
                )
                for value in [*refused, "2026-01-05T09:00:00+03:30"]
            }

    for value in refused:
        assert answers[value].status_code == 422, (value, answers[value].text)
        (issue,) = answers[value].json()["detail"]
        assert issue["loc"] == ["query", "until"], value
    assert answers["2026-01-05T09:00:00+03:30"].status_code == 200


async def test_changed_policies_recompute_open_deadlines_from_the_time_used(
    make_settings: Any, tmp_path: Path
) -> None:
    before = make_settings(SlaSettings, config_dir=_config(tmp_path / "before", "PT1H", "PT8H"))
    after = before.model_copy(update={"config_dir": _config(tmp_path / "after", "PT2H", "PT8H")})
    captured: list[SlaEvent] = []
    async with _running(before, captured) as (_service, broker):
        await _publish(broker, before.topics.routing, _routed())
    async with _running(after, captured) as (service, broker):
        assigned = TicketAssigned(ticket_id="t-1", agent_id="ag-nika", team="technical", reason="x")
        await _publish(broker, after.topics.routing, assigned)
        doc = await _ticket(service)

    started = {e.metric: e for e in captured if isinstance(e, SlaStarted)}
    recomputed = [e for e in captured if isinstance(e, SlaRecomputed)]
    assert [e.metric for e in recomputed] == ["first_response"]
    (moved,) = recomputed
    assert moved.reason == "SLA policies or calendars changed"
    assert moved.target_seconds == 7200
    first_due = started["first_response"].due_at
    assert first_due is not None and moved.due_at is not None
    # 24x7: one more hour of target moves the deadline by one hour, whatever was used.
    assert abs((moved.due_at - first_due).total_seconds() - 3600) < 1
    assert doc["clocks"][0]["target"] == 7200


def _commands() -> float:
    samples = next(iter(DB_COMMANDS.collect())).samples
    return sum(sample.value for sample in samples if sample.name.endswith("_total"))


def _records(settings: SlaSettings, events: list[Event]) -> list[ConsumerRecord[bytes, bytes]]:
    out = []
    for offset, event in enumerate(events):
        topic = (
            settings.topics.routing
            if event.event_type != "ticket.opened"
            else (settings.topics.tickets)
        )
        value = event.model_dump_json().encode()
        key = event.kafka_key()
        out.append(ConsumerRecord(topic, 0, offset, 0, 0, key, value, None, 1, len(value), []))
    return out


def _opened(ticket_id: str) -> TicketOpened:
    return TicketOpened(
        ticket_id=ticket_id,
        reference=f"HD-{ticket_id}",
        contact_id=f"c-{ticket_id}",
        customer_id="cu-1",
        customer_plan="standard",
        channel="email",
    )


async def test_a_batch_of_routed_tickets_costs_the_same_commands_at_ten_and_at_fifty(
    make_settings: Any,
) -> None:
    settings = make_settings(SlaSettings)
    captured: list[SlaEvent] = []
    costs: dict[int, float] = {}
    async with _running(settings, captured) as (service, _broker):
        assert service.kit is not None
        spec = service.kit.subscriptions["sla.on_ticket"]
        for count in (10, 50):
            ids = [f"t-{count}-{n}" for n in range(count)]
            events: list[Event] = []
            for ticket_id in ids:
                assigned = TicketAssigned(
                    ticket_id=ticket_id, agent_id="ag-1", team="technical", reason="free"
                )
                events += [_opened(ticket_id), _routed(ticket_id), assigned]
            before = _commands()
            await service.kit.consume(spec, _records(settings, events))
            costs[count] = _commands() - before
        stored = await service.db["tickets"].count_documents({"revision": 1})

    assert len(captured) == 2 * 60 and stored == 60
    # One read of the tickets, one write of the timer index, one of the tickets: the same
    # three commands for 30 events as for 150 (each ticket written once, its three inputs
    # coalesced), where one at a time cost 8 commands per ticket.
    assert costs[50] <= costs[10] <= 3, costs
