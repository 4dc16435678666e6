"""Agents' load against capacity and the teams' backlog over time, sampled from the facts:
who held which ticket open when, across reassignments, resolutions and reopenings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.insights.domain.facts import TicketFact
from services.insights.domain.fold import apply
from services.insights.domain.load import MAX_SAMPLES, load_report, samples
from shared.directory import load_directory
from shared.events import Event, TicketAssigned, TicketOpened, TicketStatusChanged

ROOT = Path(__file__).resolve().parents[2]
DIRECTORY = load_directory(ROOT / "config")
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def fold(*events: Event) -> TicketFact:
    fact = None
    for event in events:
        fact = apply(fact, event)
    assert fact is not None
    return fact


def ticket(t: str, channel: str, *events: Event) -> TicketFact:
    return fold(TicketOpened(ticket_id=t, reference=t, contact_id=t, customer_id="c",
                             channel=channel, occurred_at=T0), *events)  # fmt: skip


def assigned(t: str, agent: str, at: datetime) -> TicketAssigned:
    return TicketAssigned(ticket_id=t, agent_id=agent, team="technical", reason="r",
                          occurred_at=at)  # fmt: skip


def status(t: str, value: str, at: datetime) -> TicketStatusChanged:
    return TicketStatusChanged(ticket_id=t, status=value, occurred_at=at)


def test_load_follows_reassignments_resolutions_and_reopenings() -> None:
    facts = [
        # Maria from 09:30, Nika from 11:00, resolved at 12:00, reopened at 14:00 (Nika's).
        ticket("a", "chat", assigned("a", "ag-maria", hours(0.5)),
               assigned("a", "ag-nika", hours(2)), status("a", "resolved", hours(3)),
               status("a", "reopened", hours(5))),
        # Maria's phone ticket from 09:00 on; nobody else.
        ticket("b", "phone", assigned("b", "ag-maria", hours(0))),
        # Nobody ever took this one.
        ticket("c", "email"),
    ]  # fmt: skip
    facts = [f.model_copy(update={"team": "technical"}) for f in facts]  # as routing sets it
    report = load_report(facts, since=T0, until=hours(6), step="hour",
                         directory=DIRECTORY, teams=frozenset({"technical"}))  # fmt: skip
    assert report.samples == [hours(n) for n in range(7)]
    agents = {a.agent_id: a for a in report.agents}
    assert set(agents) == {"ag-maria", "ag-nika", "ag-sergei", "ag-leon"}
    maria = [p.load for p in agents["ag-maria"].points]
    # Every channel the agent held a ticket of in the window, at every sample.
    assert maria == [{"chat": 0, "phone": 1}, {"chat": 1, "phone": 1}, {"chat": 0, "phone": 1},
                     {"chat": 0, "phone": 1}, {"chat": 0, "phone": 1}, {"chat": 0, "phone": 1},
                     {"chat": 0, "phone": 1}]  # fmt: skip
    nika = [p.total for p in agents["ag-nika"].points]
    assert nika == [0, 0, 1, 0, 0, 1, 1]
    assert agents["ag-maria"].capacity == {"email": 10, "chat": 3, "phone": 2}
    assert not any(p.over for p in agents["ag-maria"].points)
    backlog = report.backlog["technical"]
    assert [p.open for p in backlog] == [3, 3, 3, 2, 2, 3, 3]
    assert [p.unassigned for p in backlog] == [2, 1, 1, 1, 1, 1, 1]


def test_over_capacity_is_marked_and_windows_are_bounded() -> None:
    facts = [ticket(f"p{n}", "phone", assigned(f"p{n}", "ag-maria", T0)) for n in range(3)]
    report = load_report(facts, since=T0, until=hours(1), step="hour", directory=DIRECTORY,
                         teams=None)  # fmt: skip
    [maria] = [a for a in report.agents if a.agent_id == "ag-maria"]
    assert [p.over for p in maria.points] == [True, True]  # 3 phone tickets, capacity 2
    assert len(samples(T0, T0 + timedelta(days=400), "day")) == 401
    assert len(samples(T0, T0 + timedelta(days=40), "hour")) == MAX_SAMPLES
