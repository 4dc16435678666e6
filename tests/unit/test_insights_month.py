"""A hand-made month of events, folded into ticket facts, and every figure asserted exactly:
reopens, transfers, a pause while pending, a business-hours calendar, a CSAT that comes after
the month, a redelivered event, a routing event whose ticket never opened, and events read in
any order."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from services.insights.domain.categories import category_report, paths_of
from services.insights.domain.drill import Drill
from services.insights.domain.facts import TicketFact
from services.insights.domain.fold import apply
from services.insights.domain.measures import measure
from services.insights.domain.metrics import Figures, periods_between, report
from shared.business_calendar import Calendars
from shared.events import (
    Event,
    SlaBreached,
    SlaMet,
    SlaStarted,
    TicketAgentReplied,
    TicketAssigned,
    TicketCsatReceived,
    TicketOpened,
    TicketPriorityChanged,
    TicketRouted,
    TicketStatusChanged,
    TicketTransferred,
)

#: Monday to Friday, 09:00-17:00 UTC: business time is easy to count by hand.
CALENDARS = Calendars.model_validate(
    {
        "default": "office",
        "calendars": {
            "office": {
                "timezone": "UTC",
                "week": {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
            },
            "24x7": {"timezone": "UTC", "always_open": True},
        },
    }
)
NOW = datetime(2026, 12, 5, tzinfo=UTC)
NOVEMBER = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def opened(t: str, when: datetime, channel: str, language: str) -> TicketOpened:
    return TicketOpened(
        ticket_id=t, reference=f"HD-{t}", contact_id=f"c-{t}", customer_id=f"cust-{t}",
        channel=channel, language=language, occurred_at=when,
    )  # fmt: skip


def routed(t: str, when: datetime, team: str, path: str, priority: str) -> TicketRouted:
    category, subcategory, item = ([*path.split("/"), None, None])[:3]
    return TicketRouted(
        ticket_id=t, category=category, subcategory=subcategory, item=item, impact="medium",
        urgency="medium", priority=priority, tier="L1", team=team, reason="rules",
        occurred_at=when,
    )  # fmt: skip


def assigned(t: str, when: datetime, agent: str, team: str) -> TicketAssigned:
    return TicketAssigned(ticket_id=t, agent_id=agent, team=team, reason="least loaded",
                          occurred_at=when)  # fmt: skip


def replied(t: str, when: datetime, agent: str) -> TicketAgentReplied:
    return TicketAgentReplied(ticket_id=t, agent_id=agent, body="…", occurred_at=when)


def status(t: str, when: datetime, value: str) -> TicketStatusChanged:
    return TicketStatusChanged(ticket_id=t, status=value, occurred_at=when)


def met(t: str, when: datetime, metric: str, used: float, cycle: int = 0) -> SlaMet:
    return SlaMet(ticket_id=t, metric=metric, used_seconds=used, target_seconds=28800, due_at=None,
                  cycle=cycle, occurred_at=when)  # fmt: skip


def breached(t: str, when: datetime, metric: str, cycle: int = 0) -> SlaBreached:
    return SlaBreached(ticket_id=t, metric=metric, due_at=when, late_by_seconds=0.01,
                       cycle=cycle, occurred_at=when)  # fmt: skip


def csat(t: str, when: datetime, score: int) -> TicketCsatReceived:
    return TicketCsatReceived(ticket_id=t, score=score, occurred_at=when)


def transferred(t: str, when: datetime, to_team: str, count: int) -> TicketTransferred:
    return TicketTransferred(ticket_id=t, from_team="accounts", to_team=to_team,
                             transfer_count=count, reason="skills", occurred_at=when)  # fmt: skip


def month_of_events() -> list[Event]:
    t6_reply = replied("t6", at(20, 9, 2), "ag-petros")
    return [
        # t1: answered in an hour, resolved in two, first-contact resolution, CSAT 5.
        opened("t1", at(2, 9), "email", "en"),
        routed("t1", at(2, 9, 1), "technical", "network/wifi/router", "P2"),
        SlaStarted(
            ticket_id="t1",
            metric="first_response",
            target_seconds=28800,
            due_at=at(2, 17),
            calendar="office",
            occurred_at=at(2, 9, 1),
        ),
        assigned("t1", at(2, 9, 30), "ag-maria", "technical"),
        replied("t1", at(2, 10), "ag-maria"),
        met("t1", at(2, 10), "first_response", 3540),
        status("t1", at(2, 11), "resolved"),
        met("t1", at(2, 11), "resolution", 7140),
        csat("t1", at(3, 8), 5),
        # t2: opened Friday 16:00, answered Monday 10:00 (2 business hours), pending two hours,
        # a second reply, resolved Monday 14:00; CSAT 2 arrives in December.
        opened("t2", at(6, 16), "chat", "fa"),
        routed("t2", at(6, 16, 1), "technical", "network/wifi", "P1"),
        assigned("t2", at(6, 16, 10), "ag-nika", "technical"),
        breached("t2", at(6, 17), "first_response"),
        replied("t2", at(9, 10), "ag-nika"),
        status("t2", at(9, 10, 30), "pending"),
        status("t2", at(9, 12, 30), "open"),
        replied("t2", at(9, 13), "ag-nika"),
        status("t2", at(9, 14), "resolved"),
        met("t2", at(9, 14), "resolution", 14400),
        csat("t2", at(3, 10, month=12), 2),
        # t3: accounts, priority raised by hand before routing is read, transferred to
        # technical, resolved, reopened the next day and resolved again (its second
        # resolution target breached; the first cycle's met is read after it).
        opened("t3", at(10, 9), "email", "ru"),
        routed("t3", at(10, 9, 1), "accounts", "billing/invoice", "P3"),
        assigned("t3", at(10, 9, 5), "ag-olga", "accounts"),
        TicketPriorityChanged(ticket_id="t3", priority="P2", occurred_at=at(10, 9, 10)),
        transferred("t3", at(10, 9, 20), "technical", 1),
        assigned("t3", at(10, 9, 25), "ag-sergei", "technical"),
        replied("t3", at(10, 10), "ag-sergei"),
        met("t3", at(10, 10), "first_response", 3600),
        status("t3", at(10, 11), "resolved"),
        status("t3", at(11, 9), "reopened"),
        replied("t3", at(11, 9, 30), "ag-sergei"),
        breached("t3", at(11, 9, 50), "resolution", cycle=1),
        met("t3", at(10, 11), "resolution", 7200, cycle=0),
        status("t3", at(11, 10), "resolved"),
        # t4: a phone ticket on hold since the day it opened, never answered.
        opened("t4", at(12, 15), "phone", "el"),
        routed("t4", at(12, 15, 1), "technical", "software", "P4"),
        assigned("t4", at(12, 15, 30), "ag-leon", "technical"),
        status("t4", at(12, 16), "on_hold"),
        breached("t4", at(13, 15), "first_response"),
        # t5: opened in October, resolved in November: in the window, not in its tickets.
        opened("t5", at(30, 10, month=10), "email", "en"),
        routed("t5", at(30, 10, 1, month=10), "service-desk", "general", "P3"),
        status("t5", at(2, 12), "resolved"),
        # t6: a chat answered in two minutes and resolved in five; its reply is redelivered.
        opened("t6", at(20, 9), "chat", "en"),
        routed("t6", at(20, 9, 0), "technical", "network/wifi/router", "P2"),
        assigned("t6", at(20, 9, 1), "ag-petros", "technical"),
        t6_reply,
        t6_reply,
        status("t6", at(20, 9, 5), "resolved"),
        met("t6", at(20, 9, 5), "resolution", 300),
        met("t6", at(20, 9, 2), "first_response", 120),
        csat("t6", at(21, 9), 4),
        # t7: routed, but its opening was never read: in no figure.
        routed("t7", at(25, 9), "technical", "network", "P2"),
        # t8: opened on the month's last evening, passed around three times, still open.
        opened("t8", at(30, 23), "email", "en"),
        routed("t8", at(30, 23, 1), "accounts", "account", "P3"),
        assigned("t8", at(30, 23, 10), "ag-john", "accounts"),
        transferred("t8", at(30, 23, 20), "accounts", 1),
        transferred("t8", at(30, 23, 30), "accounts", 2),
        transferred("t8", at(30, 23, 40), "accounts", 3),
    ]


def fold(events: list[Event]) -> dict[str, TicketFact]:
    facts: dict[str, TicketFact] = {}
    for event in events:
        assert event.ticket_id is not None
        facts[event.ticket_id] = apply(facts.get(event.ticket_id), event)
    return facts


def november(facts: dict[str, TicketFact], **kw: Any) -> list[Figures]:
    since, until = kw.pop("window", NOVEMBER)
    return report(
        facts.values(), since=since, until=until, calendars=CALENDARS, now=NOW,
        **{"period": "month", "dimension": None, **kw},
    )  # fmt: skip


@pytest.fixture(scope="module")
def facts() -> dict[str, TicketFact]:
    return fold(month_of_events())


def test_every_figure_of_the_month(facts: dict[str, TicketFact]) -> None:
    [month] = november(facts)
    assert (month.period, month.group) == ("2026-11", None)
    assert month.tickets == 6  # t1 t2 t3 t4 t6 t8: not t5 (October), not t7 (never opened)
    assert month.resolved == 4
    assert month.resolution_rate == 0.6667
    # Calendar: t6 120 s, t1 and t3 an hour, t2 Friday 16:00 to Monday 10:00.
    assert month.first_response.model_dump() == {"count": 4, "median": 3600, "p90": 237600}
    # Business: t2 is one hour on Friday and one on Monday.
    assert month.first_response_business.model_dump() == {"count": 4, "median": 3600, "p90": 7200}
    # Calendar to the last resolution: t6 300 s, t1 2 h, t3 25 h (reopened), t2 70 h.
    assert month.resolve.model_dump() == {"count": 4, "median": 7200, "p90": 252000}
    # Business: t2 6 h less 2 h pending; t3 8 h on Tuesday and 1 h on Wednesday.
    assert month.resolve_business.model_dump() == {"count": 4, "median": 7200, "p90": 32400}
    assert month.first_contact_resolved == 2  # t1 and t6 (its repeated reply counted once)
    assert month.first_contact_resolution_rate == 0.5
    assert (month.reopened, month.reopen_rate) == (1, 0.25)
    assert month.transfers_per_ticket == 0.6667  # 1 (t3) + 3 (t8) over 6
    assert month.queue_wait.model_dump() == {"count": 6, "median": 600, "p90": 1800}
    assert {m: f.model_dump() for m, f in month.sla.items()} == {
        "first_response": {"met": 3, "breached": 2, "percent_met": 60.0},
        "resolution": {"met": 3, "breached": 1, "percent_met": 75.0},
    }
    assert month.backlog == 2  # t4 (on hold) and t8 at the month's end
    assert (month.csat_responses, month.csat_average, month.csat_response_rate) == (
        3,
        3.6667,
        0.75,
    )


def test_per_team_and_backlog_of_earlier_tickets(facts: dict[str, TicketFact]) -> None:
    by_team = {f.group: f for f in november(facts, dimension="team")}
    assert set(by_team) == {"technical", "accounts"}  # t3 counts where it was moved to
    assert (by_team["technical"].tickets, by_team["technical"].backlog) == (5, 1)
    assert (by_team["accounts"].tickets, by_team["accounts"].backlog) == (1, 1)
    assert by_team["accounts"].transfers_per_ticket == 3.0
    window = (datetime(2026, 10, 1, tzinfo=UTC), NOVEMBER[1])
    october, _ = november(facts, window=window)
    assert (october.period, october.tickets, october.backlog) == ("2026-10", 1, 1)


def test_weekly_periods_count_the_backlog_at_each_end(facts: dict[str, TicketFact]) -> None:
    weeks = {f.period: f for f in november(facts, period="week")}
    assert [s.name for s in periods_between(*NOVEMBER, "week")] == [
        "2026-W44", "2026-W45", "2026-W46", "2026-W47", "2026-W48", "2026-W49",
    ]  # fmt: skip
    assert (weeks["2026-W45"].tickets, weeks["2026-W45"].backlog) == (2, 1)  # t2 over Sunday
    assert (weeks["2026-W46"].tickets, weeks["2026-W46"].backlog) == (2, 1)  # t4 on hold


def test_priority_set_by_hand_outlasts_routing_and_the_latest_team_stands(
    facts: dict[str, TicketFact],
) -> None:
    t3 = facts["t3"]
    assert (t3.priority, t3.team, t3.agent_id, t3.agents) == (
        "P2", "technical", "ag-sergei", ["ag-olga", "ag-sergei"],
    )  # fmt: skip
    assert t3.sla["resolution"].outcome == "breached"  # cycle 1 outlasts cycle 0
    assert measure(facts["t2"], CALENDARS, NOW).pending_seconds == 7200


def test_events_in_any_order_fold_to_the_same_figures() -> None:
    events = month_of_events()
    expected = november(fold(events), dimension="team")
    for seed in range(5):
        shuffled = list(events)
        random.Random(seed).shuffle(shuffled)
        assert november(fold(shuffled), dimension="team") == expected


def test_a_redelivered_event_changes_nothing(facts: dict[str, TicketFact]) -> None:
    events = month_of_events()
    again = fold(events + events[::-1])
    assert {t: f.model_dump(exclude={"applied"}) for t, f in again.items()} == {
        t: f.model_dump(exclude={"applied"}) for t, f in facts.items()
    }


def test_drill_down_names_the_tickets_behind_each_figure(facts: dict[str, TicketFact]) -> None:
    def behind(**conditions: Any) -> set[str]:
        drill = Drill(**conditions)
        return {
            t for t, f in facts.items()
            if f.opened_at and NOVEMBER[0] <= f.opened_at < NOVEMBER[1]
            and drill.matches(f, measure(f, CALENDARS, NOW))
        }  # fmt: skip

    assert behind(first_response_over_business_hours=1) == {"t2"}
    assert behind(csat_at_most=2) == {"t2"}
    assert behind(transfers_at_least=3) == {"t8"}
    assert behind(breached="first_response") == {"t2", "t4"}
    assert behind(first_contact_resolved=True) == {"t1", "t6"}
    assert behind(reopened=True) == {"t3"}
    assert behind(dimension="team", group="accounts", resolved=False) == {"t8"}
    assert behind(dimension="subcategory", group="network/wifi") == {"t1", "t2", "t6"}


def test_the_category_tree_with_shares_and_the_change_from_october(
    facts: dict[str, TicketFact],
) -> None:
    def month(m: int) -> list[TicketFact]:
        return [f for f in facts.values() if f.opened_at and f.opened_at.month == m]

    tree = category_report("2026-11", "2026-10", paths_of(month(11)), paths_of(month(10)))
    assert (tree.tickets, tree.previous_tickets) == (6, 1)
    top = {n.name: n for n in tree.categories}
    assert tree.categories[0].name == "network"
    assert {n: (c.count, c.share, c.change) for n, c in top.items()} == {
        "network": (3, 0.5, 3),
        "billing": (1, 0.1667, 1),
        "software": (1, 0.1667, 1),
        "account": (1, 0.1667, 1),
        "general": (0, 0.0, -1),
    }
    assert (top["general"].previous_share, top["general"].share_change) == (1.0, -1.0)
    [wifi] = top["network"].children
    assert (wifi.path, wifi.count, wifi.share) == ("network/wifi", 3, 1.0)
    assert {c.name: (c.count, c.share) for c in wifi.children} == {
        "router": (2, 0.6667),
        "(unspecified)": (1, 0.3333),
    }
