"""SLA rules without a broker or a database: policies, starting, meeting and breaching clocks."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from services.sla import domain
from services.sla.domain import SlaClock
from services.sla.policies import SlaPolicies
from shared.clock import FakeClock
from shared.config import load_yaml
from shared.events import (
    SlaBreached,
    SlaMet,
    SlaStarted,
    TicketAgentReplied,
    TicketAssigned,
    TicketRouted,
    TicketStatusChanged,
)
from shared.ids import derived_id

ROOT = Path(__file__).resolve().parents[2]

POLICIES = SlaPolicies.model_validate(
    {
        "default": {"first_response": "PT3H", "resolution": "PT8H"},
        "priorities": {"P1": {"first_response": "PT30M", "resolution": "PT4H"}},
    }
)


def _routed(clock: FakeClock, priority: Any = "P1") -> TicketRouted:
    return TicketRouted(
        ticket_id="t-1",
        category="network",
        impact="high",
        urgency="high",
        priority=priority,
        tier="L1",
        team="network",
        reason="wifi",
        correlation_id="c-1",
        occurred_at=clock.now(),
    )


def _replied(clock: FakeClock) -> TicketAgentReplied:
    return TicketAgentReplied(
        ticket_id="t-1", agent_id="a-1", body="Try this", occurred_at=clock.now()
    )


def _started(clock: FakeClock) -> list[SlaClock]:
    return domain.start_clocks(
        _routed(clock), POLICIES.policy_for("P1"), clock.now(), partition=2
    ).clocks


def test_policy_for_a_listed_priority_and_falls_back_to_default() -> None:
    assert POLICIES.policy_for("P1").first_response == timedelta(minutes=30)
    assert POLICIES.policy_for("P3").resolution == timedelta(hours=8)
    assert POLICIES.policy_for(None) == POLICIES.default


def test_shipped_config_validates_with_iso_durations() -> None:
    policies = load_yaml(ROOT / "config" / "sla.yaml", SlaPolicies)
    assert policies.policy_for("P2").first_response == timedelta(hours=1)
    assert policies.default.resolution == timedelta(hours=8)


def test_routed_ticket_starts_both_clocks_with_due_times() -> None:
    clock = FakeClock()
    routed = _routed(clock)
    outcome = domain.start_clocks(routed, POLICIES.policy_for("P1"), clock.now(), partition=2)
    first, resolution = outcome.clocks
    assert (first.metric, first.status, first.partition) == ("first_response", "running", 2)
    assert first.due_at == clock.now() + timedelta(minutes=30)
    assert resolution.due_at == clock.now() + timedelta(hours=4)
    assert all(isinstance(e, SlaStarted) for e in outcome.events)
    assert [e.event_id for e in outcome.events] == [
        derived_id(routed.event_id, "sla.started:first_response"),
        derived_id(routed.event_id, "sla.started:resolution"),
    ]
    assert outcome.events[0].correlation_id == "c-1"


def test_a_second_routing_does_not_restart_clocks_but_a_redelivery_reannounces_them() -> None:
    clock = FakeClock()
    routed = _routed(clock)
    first = domain.start_clocks(routed, POLICIES.default, clock.now(), partition=0)
    again = domain.start_clocks(
        routed,
        POLICIES.default,
        clock.advance(timedelta(minutes=1)),
        partition=0,
        existing=first.clocks,
    )
    assert again.clocks == []
    assert [e.event_id for e in again.events] == [e.event_id for e in first.events]
    rerouted = domain.start_clocks(
        _routed(clock), POLICIES.default, clock.now(), partition=0, existing=first.clocks
    )
    assert rerouted == domain.Outcome()


def test_reply_in_time_meets_first_response_with_used_seconds() -> None:
    clock = FakeClock()
    clocks = _started(clock)
    clock.advance(timedelta(minutes=10))
    replied = _replied(clock)
    outcome = domain.reply(clocks, replied, clock.now())
    (met_clock,) = outcome.clocks
    (met,) = outcome.events
    assert met_clock.status == "met" and met_clock.metric == "first_response"
    assert isinstance(met, SlaMet)
    assert met.used_seconds == 600
    assert met.event_id == derived_id(replied.event_id, "sla.met:first_response")
    assert domain.reply(outcome.clocks, replied, clock.now()).events == [met]


def test_reply_after_the_deadline_leaves_the_breach_to_the_timer() -> None:
    clock = FakeClock()
    clocks = _started(clock)
    clock.advance(timedelta(minutes=31))
    assert domain.reply(clocks, _replied(clock), clock.now()) == domain.Outcome()


def test_reply_before_routing_meets_first_response_when_clocks_start() -> None:
    clock = FakeClock()
    early = domain.early_reply(_replied(clock), clock.now())
    clock.advance(timedelta(seconds=5))
    routed = _routed(clock)
    outcome = domain.start_clocks(
        routed, POLICIES.default, clock.now(), partition=1, early_reply=early
    )
    by_metric = {c.metric: c for c in outcome.clocks}
    assert by_metric["first_response"].status == "met"
    assert by_metric["resolution"].status == "running"
    kinds = [(e.event_type, getattr(e, "metric", None)) for e in outcome.events]
    assert kinds == [
        ("sla.started", "first_response"),
        ("sla.met", "first_response"),
        ("sla.started", "resolution"),
    ]


def test_resolution_before_routing_meets_both_clocks_when_they_start() -> None:
    clock = FakeClock()
    reply = domain.early_reply(_replied(clock), clock.now())
    resolved = TicketStatusChanged(ticket_id="t-1", status="resolved", occurred_at=clock.now())
    pending = TicketStatusChanged(ticket_id="t-1", status="pending", occurred_at=clock.now())
    assert domain.early_resolution(pending, clock.now()) is None
    resolution = domain.early_resolution(resolved, clock.now())
    clock.advance(timedelta(seconds=5))
    outcome = domain.start_clocks(
        _routed(clock),
        POLICIES.default,
        clock.now(),
        partition=1,
        early_reply=reply,
        early_resolution=resolution,
    )
    by_metric = {c.metric: c for c in outcome.clocks}
    assert {c.status for c in outcome.clocks} == {"met"}
    assert by_metric["first_response"].assignee_id == "a-1"
    assert by_metric["resolution"].closed_at == by_metric["resolution"].started_at
    kinds = [(e.event_type, getattr(e, "metric", None)) for e in outcome.events]
    assert kinds == [
        ("sla.started", "first_response"),
        ("sla.met", "first_response"),
        ("sla.started", "resolution"),
        ("sla.met", "resolution"),
    ]


def test_resolving_meets_every_running_clock() -> None:
    clock = FakeClock()
    clocks = _started(clock)
    clock.advance(timedelta(minutes=20))
    resolved = TicketStatusChanged(ticket_id="t-1", status="resolved", occurred_at=clock.now())
    outcome = domain.status_changed(clocks, resolved, clock.now())
    assert {c.metric: c.status for c in outcome.clocks} == {
        "first_response": "met",
        "resolution": "met",
    }
    pending = TicketStatusChanged(ticket_id="t-1", status="pending", occurred_at=clock.now())
    assert domain.status_changed(clocks, pending, clock.now()) == domain.Outcome()


def test_assignment_updates_running_clocks_only() -> None:
    clock = FakeClock()
    clocks = _started(clock)
    met = domain.reply(clocks, _replied(clock), clock.now()).clocks[0]
    assigned = TicketAssigned(ticket_id="t-1", agent_id="a-9", team="network", reason="skills")
    outcome = domain.assign([met, clocks[1]], assigned)
    assert [(c.metric, c.assignee_id) for c in outcome.clocks] == [("resolution", "a-9")]
    assert outcome.events == []


def test_breach_only_when_due_and_red_with_deterministic_id() -> None:
    clock = FakeClock()
    first = _started(clock)[0]
    assert domain.breach(first, clock.advance(timedelta(minutes=29))) == domain.Outcome()
    now = clock.advance(timedelta(minutes=1, milliseconds=250))
    outcome = domain.breach(first, now)
    (breached_clock,) = outcome.clocks
    (event,) = outcome.events
    assert breached_clock.status == "breached"
    assert isinstance(event, SlaBreached)
    assert event.colour == "red" and event.causation_id is None
    assert event.correlation_id == "c-1"
    assert event.late_by_seconds == 0.25
    assert event.event_id == derived_id(
        "t-1", "first_response", "breached", first.due_at.isoformat()
    )
    assert domain.breach(breached_clock, now) == domain.Outcome()
