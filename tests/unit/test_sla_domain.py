"""SLA clocks in business time, driven through the pure transitions on a fake clock.

Unless a test says otherwise the ticket belongs to team `technical`, whose calendar is
`greece` (Europe/Athens, Mon-Fri 09:00-17:00, EET = UTC+2 in November). The week of Monday
2026-11-23 has no Greek, Russian or Iranian holiday. Every expected instant is worked out
by hand in a comment.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from services.sla import announce, clocks, transitions
from services.sla.domain import Decision, Finished, Rules, TicketSla
from services.sla.policies import SlaPolicies
from shared.business_calendar import load_calendars
from shared.clock import FakeClock
from shared.config import load_yaml
from shared.events import (
    Event,
    SlaBreached,
    SlaMet,
    SlaPaused,
    SlaRecomputed,
    SlaResumed,
    SlaStarted,
    SlaWarning,
    TicketAgentReplied,
    TicketAssigned,
    TicketContactAppended,
    TicketOpened,
    TicketPriorityChanged,
    TicketRouted,
    TicketStatusChanged,
    TicketTransferred,
)

ROOT = Path(__file__).resolve().parents[2]
CALENDARS = load_calendars(ROOT / "config")
ATHENS, MOSCOW = ZoneInfo("Europe/Athens"), ZoneInfo("Europe/Moscow")
H, M = timedelta(hours=1), timedelta(minutes=1)
E = TypeVar("E", bound=Event)

POLICIES: dict[str, Any] = {
    "warning_levels": [50, 75, 90],
    "colours": {"amber": 75, "red": 90},
    "pause_on": ["pending", "on_hold"],
    "on_reopen": "restart",
    "default": {"targets": {"first_response": "PT4H", "next_reply": "PT2H", "resolution": "PT8H"}},
    "policies": [
        {
            "name": "urgent",
            "match": {"priority": "P1"},
            "targets": {"first_response": "PT1H", "resolution": "PT4H"},
        },
        {
            "name": "enterprise",
            "match": {"plan": "enterprise"},
            "targets": {"first_response": "PT2H"},
        },
        {"name": "billing", "match": {"category": "billing"}, "targets": {"resolution": "PT16H"}},
    ],
}


def _rules(version: str = "v1", **overrides: Any) -> Rules:
    doc = {**POLICIES, **overrides}
    return Rules(SlaPolicies.model_validate(doc), CALENDARS, version)


RULES = _rules()


def athens(day: int, hour: int, minute: int = 0) -> datetime:
    """An Athens wall time in November 2026, as UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=ATHENS).astimezone(UTC)


def moscow(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=MOSCOW).astimezone(UTC)


class Desk:
    """One ticket moved by the transitions; keeps what each step announced and finished."""

    def __init__(self, start: datetime, rules: Rules = RULES, ticket_id: str = "t-1") -> None:
        self.clock = FakeClock(start)
        self.rules = rules
        self.ticket = TicketSla(ticket_id=ticket_id)
        self.finished: list[Finished] = []

    def at(self, instant: datetime) -> Desk:
        self.clock.set(instant)
        return self

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def take(self, decision: Decision, cause: Event | None) -> list[Event]:
        events = announce.events_of(decision, self.rules, cause, self.now)
        self.ticket = decision.ticket
        self.finished += decision.finished
        return events

    def common(self) -> dict[str, Any]:
        return {"ticket_id": self.ticket.ticket_id, "occurred_at": self.now}

    def opened(self, plan: str = "standard") -> list[Event]:
        event = TicketOpened(
            **self.common(),
            reference="HD-1",
            contact_id="c-1",
            customer_id="cu-1",
            customer_plan=plan,
            channel="email",
            correlation_id="c-1",
        )
        return self.take(transitions.opened(self.ticket, event, self.rules, self.now), event)

    def routed(
        self,
        priority: Any = "P3",
        team: str = "technical",
        category: str = "network",
        plan: str = "standard",
    ) -> list[Event]:
        event = self.routing(priority, team, category, plan)
        return self.take(transitions.routed(self.ticket, event, self.rules, self.now, 3), event)

    def routing(
        self,
        priority: Any = "P3",
        team: str = "technical",
        category: str = "network",
        plan: str = "standard",
    ) -> TicketRouted:
        return TicketRouted(
            **self.common(),
            category=category,
            impact="medium",
            urgency="medium",
            priority=priority,
            tier="L1",
            team=team,
            customer_plan=plan,
            reason="matched",
        )

    def replied(self) -> list[Event]:
        event = TicketAgentReplied(**self.common(), agent_id="a-1", body="On it")
        return self.take(transitions.agent_replied(self.ticket, event, self.rules, self.now), event)

    def customer_wrote(self) -> list[Event]:
        event = TicketContactAppended(
            **self.common(), contact_id="c-2", customer_id="cu-1", channel="email"
        )
        return self.take(
            transitions.customer_wrote(self.ticket, event, self.rules, self.now), event
        )

    def status(self, status: Any) -> list[Event]:
        event = TicketStatusChanged(**self.common(), status=status)
        return self.take(
            transitions.status_changed(self.ticket, event, self.rules, self.now), event
        )

    def priority(self, priority: Any) -> list[Event]:
        event = TicketPriorityChanged(**self.common(), priority=priority)
        decision = transitions.priority_changed(self.ticket, event, self.rules, self.now)
        return self.take(decision, event)

    def transferred(self, team: str) -> list[Event]:
        event = TicketTransferred(
            **self.common(),
            to_agent_id="a-2",
            from_team=self.ticket.team or "",
            to_team=team,
            transfer_count=1,
            reason="skills",
        )
        return self.take(transitions.transferred(self.ticket, event, self.rules, self.now), event)

    def assigned(self, team: str) -> list[Event]:
        event = TicketAssigned(**self.common(), agent_id="a-3", team=team, reason="free")
        return self.take(transitions.assigned(self.ticket, event, self.rules, self.now), event)

    def advance(self) -> list[Event]:
        return self.take(transitions.advance(self.ticket, self.rules, self.now), None)

    def tick(self) -> list[Event]:
        """The timer fires at the ticket's next moment."""
        assert self.ticket.next_at is not None
        return self.at(self.ticket.next_at).advance()


def only(events: list[Event], kind: type[E], metric: str | None = None) -> E:
    found = [e for e in events if isinstance(e, kind) and metric in (None, e.metric)]  # type: ignore[attr-defined]
    assert len(found) == 1, events
    return found[0]


def kinds(events: list[Event]) -> list[tuple[str, str]]:
    return [(e.event_type, e.metric) for e in events]  # type: ignore[attr-defined]


# --- start, warning ladder, breach, met ------------------------------------------------


def test_routing_starts_first_response_and_resolution_with_business_deadlines() -> None:
    desk = Desk(athens(23, 15))
    events = desk.routed()
    assert kinds(events) == [("sla.started", "first_response"), ("sla.started", "resolution")]
    first, resolution = (only(events, SlaStarted, m) for m in ("first_response", "resolution"))
    # 4h from Mon 15:00: Mon 15-17 (2h) + Tue 09-11 (2h) -> Tue 11:00.
    assert (first.due_at, first.target_seconds) == (athens(24, 11), 4 * 3600)
    # 8h: Mon 15-17 (2h) + Tue 09-15 (6h) -> Tue 15:00.
    assert resolution.due_at == athens(24, 15)
    assert (first.policy, first.calendar, first.cycle, first.colour) == (
        "default",
        "greece",
        0,
        "green",
    )
    assert first.causation_id is not None and desk.ticket.partition == 3
    # First response 50% = 2h -> Mon 17:00, closing time exactly.
    assert desk.ticket.next_at == athens(23, 17)


def test_warning_ladder_fires_at_business_instants_and_colours_the_ticket() -> None:
    desk = Desk(athens(23, 15))
    desk.routed()
    # 50% of 4h = 2h -> Mon 17:00; 2h of business time left, although 18 wall hours remain.
    warning = only(desk.tick(), SlaWarning)
    assert (desk.now, warning.metric, warning.level_percent) == (
        athens(23, 17),
        "first_response",
        50,
    )
    assert (warning.remaining_seconds, warning.due_at, warning.colour) == (
        7200,
        athens(24, 11),
        "green",
    )
    assert warning.prompt is None
    # 75% = 3h -> Tue 10:00, amber.
    warning = only(desk.tick(), SlaWarning)
    assert (desk.now, warning.level_percent, warning.remaining_seconds) == (
        athens(24, 10),
        75,
        3600,
    )
    assert warning.colour == desk.ticket.colour == "amber"
    # 90% = 3h36 -> Tue 10:36, red.
    warning = only(desk.tick(), SlaWarning)
    assert (desk.now, warning.level_percent, warning.remaining_seconds) == (
        athens(24, 10, 36),
        90,
        1440,
    )
    assert warning.colour == "red"
    # Tue 11:00: first response breached, and resolution reaches 50% (4h: Mon 2h + Tue 2h).
    events = desk.tick()
    assert desk.now == athens(24, 11)
    assert kinds(events) == [("sla.breached", "first_response"), ("sla.warning", "resolution")]
    breached = only(events, SlaBreached)
    assert (breached.due_at, breached.late_by_seconds, breached.colour) == (
        athens(24, 11),
        0,
        "red",
    )
    assert only(events, SlaWarning).level_percent == 50
    assert desk.ticket.clock("first_response").status == "breached"  # type: ignore[union-attr]
    assert [f.clock.metric for f in desk.finished] == ["first_response"]


def test_timer_late_for_the_deadline_announces_only_the_breach_with_how_late() -> None:
    desk = Desk(athens(23, 9))
    desk.routed()  # first response due 13:00
    events = desk.at(athens(23, 13, 5)).advance()
    breached = only(events, SlaBreached)
    # First response's levels are not announced after its deadline; resolution's 50% (4h,
    # 13:00) is.
    assert kinds(events) == [("sla.breached", "first_response"), ("sla.warning", "resolution")]
    assert (breached.due_at, breached.late_by_seconds) == (athens(23, 13), 300)


def test_several_levels_due_at_once_announce_only_the_highest_and_mark_the_rest() -> None:
    desk = Desk(athens(23, 9))
    desk.routed()
    # By 12:40 first response passed 50% (11:00), 75% (12:00) and 90% (12:36).
    events = desk.at(athens(23, 12, 40)).advance()
    warning = only(events, SlaWarning)
    assert (warning.level_percent, warning.colour) == (90, "red")
    # Remaining is taken at the level's own instant, 12:36: 24 minutes.
    assert warning.remaining_seconds == 24 * 60
    assert desk.ticket.clock("first_response").warned == (50, 75, 90)  # type: ignore[union-attr]
    # Next: the deadline at 13:00, which is also resolution's 50% (4h).
    assert desk.ticket.next_at == athens(23, 13)


def test_advancing_twice_at_the_same_instant_announces_nothing_new() -> None:
    desk = Desk(athens(23, 9))
    desk.routed()
    assert desk.at(athens(23, 13)).advance()
    before = desk.ticket
    assert desk.advance() == []
    assert desk.ticket == before


def test_reply_before_the_deadline_meets_first_response_with_business_time_used() -> None:
    desk = Desk(athens(23, 15))
    desk.routed()
    # Mon 15-17 (2h) + Tue 09:00-09:30 -> 2h30 used, although 18.5 wall hours passed.
    events = desk.at(athens(24, 9, 30)).replied()
    met = only(events, SlaMet)
    assert (met.metric, met.used_seconds, met.target_seconds) == ("first_response", 9000, 14400)
    assert met.due_at == athens(24, 11)
    assert [(f.clock.metric, f.clock.status) for f in desk.finished] == [("first_response", "met")]
    # The reply does not touch resolution: its 50% at Tue 11:00 is next.
    assert desk.ticket.next_at == athens(24, 11)


def test_breached_target_is_finished_awaiting_then_finished_again_when_satisfied() -> None:
    desk = Desk(athens(23, 9))
    desk.routed()
    desk.at(athens(23, 13)).advance()
    awaiting = desk.finished[-1].clock
    assert (awaiting.status, awaiting.open, awaiting.breached_at) == (
        "breached",
        True,
        athens(23, 13),
    )
    events = desk.at(athens(23, 14)).replied()
    assert events == []  # no sla.met for a missed target
    done = desk.finished[-1].clock
    assert (done.status, done.open, done.used) == ("breached", False, 5 * H)


def test_late_reply_before_the_timer_fired_is_breached_at_the_deadline_moved_by_pauses() -> None:
    desk = Desk(athens(23, 9))
    desk.routed()
    desk.at(athens(23, 10)).status("pending")
    desk.at(athens(23, 11)).status("open")  # first response now due 14:00, not 13:00
    breached = only(desk.at(athens(23, 14, 30)).replied(), SlaBreached)
    assert (breached.due_at, breached.late_by_seconds) == (athens(23, 14), 1800)


# --- deterministic ids --------------------------------------------------------------


def test_same_input_and_state_give_the_same_event_ids() -> None:
    desk = Desk(athens(23, 9))
    event = desk.routing()
    ids = [
        [
            e.event_id
            for e in announce.events_of(
                transitions.routed(desk.ticket, event, RULES, desk.now, 3), RULES, event, desk.now
            )
        ]
        for _ in range(2)
    ]
    assert ids[0] == ids[1] and len(set(ids[0])) == 2


def test_timer_ids_depend_on_ticket_metric_cycle_level_and_instant() -> None:
    def breach_id(ticket_id: str, when: datetime) -> object:
        desk = Desk(athens(23, 9), ticket_id=ticket_id)
        desk.routed()
        return only(desk.at(when).advance(), SlaBreached).event_id

    # A later timer run finds the same deadline: same id; another ticket: another id.
    assert breach_id("t-1", athens(23, 13)) == breach_id("t-1", athens(23, 16))
    assert breach_id("t-1", athens(23, 13)) != breach_id("t-2", athens(23, 13))
    desk = Desk(athens(23, 9))
    desk.routed()
    first = only(desk.at(athens(23, 11)).advance(), SlaWarning)
    again = Desk(athens(23, 9))
    again.routed()
    later = only(again.at(athens(23, 11, 30)).advance(), SlaWarning)
    assert first.event_id == later.event_id  # the same level at the same instant
    # A level of another metric at the same instant differs.
    events = desk.at(athens(23, 13)).advance()
    assert len({e.event_id for e in events}) == len(events) == 2


# --- pause and resume ---------------------------------------------------------------


def test_pending_pauses_with_business_time_left_and_open_moves_deadlines_by_the_pause() -> None:
    desk = Desk(athens(23, 9))
    desk.routed()  # first response due 13:00, resolution 17:00
    events = desk.at(athens(23, 10)).status("pending")
    assert kinds(events) == [("sla.paused", "first_response"), ("sla.paused", "resolution")]
    paused = only(events, SlaPaused, "first_response")
    assert (paused.remaining_seconds, paused.reason) == (3 * 3600, "pending")
    assert only(events, SlaPaused, "resolution").remaining_seconds == 7 * 3600
    assert desk.ticket.next_at is None
    # Paused Mon 10:00 -> Tue 10:00 is 7 business hours (Mon 10-17): both deadlines move by
    # 7h: first response Mon 13:00 -> Tue 13:00, resolution Mon 17:00 -> Tue 17:00.
    events = desk.at(athens(24, 10)).status("open")
    assert only(events, SlaResumed, "first_response").due_at == athens(24, 13)
    assert only(events, SlaResumed, "resolution").due_at == athens(24, 17)
    assert desk.ticket.next_at == athens(24, 11)  # 50% of first response: 1h used + 1h


def test_customer_message_resumes_a_pending_ticket() -> None:
    desk = Desk(athens(23, 9))
    desk.routed()
    desk.at(athens(23, 10)).status("pending")
    events = desk.at(athens(23, 11)).customer_wrote()
    # 3h left at 11:00 -> 14:00; no next reply, since no agent had replied.
    assert kinds(events) == [("sla.resumed", "first_response"), ("sla.resumed", "resolution")]
    assert only(events, SlaResumed, "first_response").due_at == athens(23, 14)
    assert desk.ticket.state == "open"


def test_customer_message_does_not_resume_a_ticket_on_hold() -> None:
    desk = Desk(athens(23, 9))
    desk.routed()
    desk.at(athens(23, 10)).status("on_hold")
    assert desk.at(athens(23, 11)).customer_wrote() == []
    assert (desk.ticket.state, desk.ticket.paused_reason, desk.ticket.next_at) == (
        "paused",
        "on_hold",
        None,
    )
    # From pending to on hold: still paused, nothing announced twice.
    assert desk.status("pending") == []


def test_reply_while_paused_meets_with_the_time_used_before_the_pause() -> None:
    desk = Desk(athens(23, 9))
    desk.routed()
    desk.at(athens(23, 10)).status("pending")
    met = only(desk.at(athens(24, 12)).replied(), SlaMet)
    assert (met.used_seconds, met.due_at) == (3600, None)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=3 * 24 * 60), min_size=1, max_size=8))
def test_pauses_move_the_deadline_by_exactly_the_paused_business_time(gaps: list[int]) -> None:
    # Alternate pause and resume after each gap (minutes of wall time): the time used is
    # the business time of the running stretches, and the deadline is always what is
    # left of the target, counted on the calendar from the latest resume.
    greece = CALENDARS.get("greece")
    now = athens(23, 9)
    clock = clocks.start("resolution", 8 * H, now, greece)
    used, since = timedelta(0), now
    for gap in gaps:
        now += gap * M
        if clock.running_since is not None:
            used += greece.elapsed(since, now)
            clock = clocks.pause(clock, greece, now)
        else:
            since, clock = now, clocks.resume(clock, greece, now)
        assert clock.used_at(greece, now) == used
    if clock.due_at is not None and used < 8 * H:
        assert greece.elapsed(since, clock.due_at) == 8 * H - used


# --- recompute ----------------------------------------------------------------------


def test_priority_p3_to_p1_keeps_used_time_and_moves_both_deadlines() -> None:
    desk = Desk(athens(23, 9))
    desk.routed(priority="P3")
    events = desk.at(athens(23, 9, 30)).priority("P1")
    first = only(events, SlaRecomputed, "first_response")
    # 30 min used of the new 1h -> due 10:00; resolution 4h - 30min -> 09:30 + 3h30 = 13:00.
    assert (first.due_at, first.used_seconds, first.target_seconds) == (athens(23, 10), 1800, 3600)
    assert (first.reason, first.policy, first.calendar) == ("priority P3 -> P1", "urgent", "greece")
    assert only(events, SlaRecomputed, "resolution").due_at == athens(23, 13)
    assert events[0].event_id != events[1].event_id
    assert desk.ticket.priority == "P1" and desk.ticket.policy == "urgent"


def test_shorter_target_announces_the_levels_already_passed_at_once() -> None:
    desk = Desk(athens(23, 9))
    desk.routed(priority="P3")
    # 45 min used is already 75% of P1's 1h first response: due at once, not skipped.
    desk.at(athens(23, 9, 45)).priority("P1")
    assert desk.ticket.next_at == athens(23, 9, 45)
    warning = only(desk.advance(), SlaWarning)
    assert (warning.level_percent, warning.remaining_seconds, warning.colour) == (75, 900, "amber")
    assert desk.ticket.next_at == athens(23, 9, 54)  # 90%: 54 min


def test_longer_target_forgets_levels_no_longer_passed() -> None:
    desk = Desk(athens(23, 9))
    desk.routed(priority="P1")  # first response 1h: 75% at 09:45
    desk.at(athens(23, 9, 45)).advance()
    assert desk.ticket.colour == "amber"
    desk.priority("P3")  # 45 min of 4h is under 50%: green again, 50% warns at 11:00
    assert (desk.ticket.colour, desk.ticket.next_at) == ("green", athens(23, 11))


def test_routing_again_with_another_category_and_plan_recomputes_with_the_reason() -> None:
    desk = Desk(athens(23, 9))
    desk.routed(category="network")
    events = desk.at(athens(23, 10)).routed(category="billing")
    recomputed = only(events, SlaRecomputed)  # first response is unchanged
    # Billing resolution 16h, 1h used: 15h from Mon 10:00 = Mon 7h + Tue 8h -> Tue 17:00.
    assert (recomputed.metric, recomputed.due_at) == ("resolution", athens(24, 17))
    assert recomputed.reason == "routed again: category network -> billing"
    events = desk.at(athens(23, 11)).routed(category="billing", plan="enterprise")
    first = only(events, SlaRecomputed)
    # Enterprise first response 2h, 2h used -> due now.
    assert (first.metric, first.due_at, first.policy) == (
        "first_response",
        athens(23, 11),
        "billing",
    )
    assert first.reason == "routed again: plan standard -> enterprise"
    assert desk.routed(category="billing", plan="enterprise") == []  # the same routing


def test_transfer_to_a_team_on_another_calendar_measures_each_part_on_its_own() -> None:
    desk = Desk(athens(23, 9))
    desk.routed(team="technical")
    # 2h used on Athens hours by Mon 11:00 Athens = 12:00 Moscow. Russia: 09-13, 14-18.
    events = desk.at(athens(23, 11)).transferred("service-desk")
    first = only(events, SlaRecomputed, "first_response")
    # 2h left: 12:00-13:00 Moscow, lunch, 14:00-15:00 -> 15:00 Moscow (14:00 Athens).
    assert (first.due_at, first.used_seconds, first.calendar) == (moscow(23, 15), 7200, "russia")
    assert first.reason == "team technical -> service-desk"
    # 6h left: 12-13 and 14-18 (5h) + Tue 09:00-10:00 Moscow.
    assert only(events, SlaRecomputed, "resolution").due_at == moscow(24, 10)
    assert (desk.ticket.team, desk.ticket.calendar, desk.ticket.assignee_id) == (
        "service-desk",
        "russia",
        "a-2",
    )


def test_transfer_to_a_team_on_the_same_calendar_announces_nothing() -> None:
    # Instants with sub-millisecond parts: what is stored is cut to milliseconds, and the
    # time used must be cut the same way or the deadline drifts by a fraction.
    desk = Desk(athens(23, 9) + timedelta(microseconds=500))
    desk.routed(team="technical")
    due = desk.ticket.clock("first_response").due_at  # type: ignore[union-attr]
    assert desk.at(athens(23, 10) + timedelta(microseconds=700)).transferred("unlisted") == []
    assert desk.ticket.clock("first_response").due_at == due == athens(23, 13)  # type: ignore[union-attr]


def test_assignment_within_the_same_team_recomputes_nothing() -> None:
    desk = Desk(athens(23, 9))
    desk.routed(team="technical")
    assert desk.at(athens(23, 10)).assigned("technical") == []
    assert desk.ticket.assignee_id == "a-3"


def test_new_rules_version_is_applied_when_the_timer_fires() -> None:
    desk = Desk(athens(23, 9))
    desk.routed()
    desk.rules = _rules("v2", default={"targets": {"first_response": "PT6H", "resolution": "PT8H"}})
    events = desk.at(athens(23, 10)).advance()
    recomputed = only(events, SlaRecomputed)
    # 6h from 09:00 -> 15:00; nothing fell due by 10:00 (50% of 6h is 12:00).
    assert (recomputed.metric, recomputed.due_at) == ("first_response", athens(23, 15))
    assert recomputed.reason == "SLA policies or calendars changed"
    assert (desk.ticket.version, desk.ticket.next_at) == ("v2", athens(23, 12))
    assert desk.advance() == []


def test_a_breached_clock_keeps_its_target_and_deadline_on_recompute() -> None:
    desk = Desk(athens(23, 9))
    desk.routed()
    desk.at(athens(23, 13)).advance()  # first response breached
    events = desk.at(athens(23, 14)).priority("P1")
    assert kinds(events) == [("sla.recomputed", "resolution")]
    first = desk.ticket.clock("first_response")
    assert first is not None and (first.target, first.due_at) == (4 * H, athens(23, 13))
    # Moved to Moscow at 14:00 Athens, it keeps running on the new calendar: replied at
    # 17:00 Moscow (16:00 Athens) it used 5h (Athens 09-14) + 2h (Moscow 15-17).
    desk.transferred("service-desk")
    desk.at(moscow(23, 17)).replied()
    assert desk.finished[-1].clock.used == 7 * H


# --- reopening ----------------------------------------------------------------------


def test_reopened_ticket_restarts_resolution_as_cycle_1_with_the_whole_target() -> None:
    desk = Desk(athens(23, 9))
    desk.routed()
    events = desk.at(athens(23, 11)).status("resolved")
    met = only(events, SlaMet, "resolution")
    assert (met.cycle, met.used_seconds) == (0, 7200)
    assert desk.ticket.next_at is None
    started = only(desk.at(athens(23, 12)).status("reopened"), SlaStarted)
    # 8h from Mon 12:00: 12-17 (5h) + Tue 09-12 (3h) -> Tue 12:00.
    assert (started.metric, started.cycle, started.due_at) == ("resolution", 1, athens(24, 12))
    met = only(desk.at(athens(24, 10)).status("resolved"), SlaMet)
    assert (met.cycle, met.used_seconds) == (1, 6 * 3600)  # Mon 12-17 + Tue 09-10


def test_reopened_ticket_resumes_what_was_left_when_the_policy_says_so() -> None:
    desk = Desk(athens(23, 9), rules=_rules(on_reopen="resume"))
    desk.routed()
    desk.at(athens(23, 11)).status("resolved")  # 2h of 8h used
    started = only(desk.at(athens(23, 12)).status("open"), SlaStarted)
    # 6h left from Mon 12:00: 12-17 (5h) + Tue 09-10 -> Tue 10:00.
    assert (started.cycle, started.due_at) == (1, athens(24, 10))
    # 2h carried in + 2h by 14:00 = 4h: 50% of the new cycle.
    assert desk.ticket.next_at == athens(23, 14)
    assert only(desk.tick(), SlaWarning).cycle == 1


# --- next reply ---------------------------------------------------------------------


def test_next_reply_cycles_follow_customer_messages_after_agent_replies() -> None:
    desk = Desk(athens(23, 9))
    desk.routed()
    desk.at(athens(23, 10)).replied()
    started = only(desk.at(athens(23, 11)).customer_wrote(), SlaStarted)
    assert (started.metric, started.cycle, started.due_at) == ("next_reply", 0, athens(23, 13))
    assert desk.at(athens(23, 11, 30)).customer_wrote() == []  # no reply in between
    met = only(desk.at(athens(23, 12)).replied(), SlaMet)
    assert (met.metric, met.cycle, met.used_seconds) == ("next_reply", 0, 3600)
    started = only(desk.at(athens(23, 16)).customer_wrote(), SlaStarted)
    # 2h from Mon 16:00: 16-17 + Tue 09-10.
    assert (started.cycle, started.due_at) == (1, athens(24, 10))


def test_customer_message_before_any_reply_starts_no_next_reply() -> None:
    desk = Desk(athens(23, 9))
    desk.routed()
    assert desk.at(athens(23, 10)).customer_wrote() == []
    assert desk.ticket.clock("next_reply") is None


# --- inputs seen before routing -----------------------------------------------------


def test_reply_before_routing_meets_first_response_as_the_clocks_start() -> None:
    desk = Desk(athens(23, 9))
    desk.opened()
    desk.at(athens(23, 9, 20)).replied()
    events = desk.at(athens(23, 9, 30)).routed()
    assert kinds(events) == [
        ("sla.started", "first_response"),
        ("sla.started", "resolution"),
        ("sla.met", "first_response"),
    ]
    # The clocks start when the ticket was opened, 09:00.
    assert only(events, SlaStarted, "resolution").due_at == athens(23, 17)
    assert only(events, SlaMet).used_seconds == 20 * 60


def test_resolution_before_routing_meets_both_targets() -> None:
    desk = Desk(athens(23, 9))
    desk.opened()
    desk.at(athens(23, 10)).status("resolved")
    events = desk.at(athens(23, 10, 30)).routed()
    assert [(m.metric, m.used_seconds) for m in events if isinstance(m, SlaMet)] == [
        ("first_response", 3600),
        ("resolution", 3600),
    ]
    assert (desk.ticket.state, desk.ticket.next_at) == ("done", None)
    assert len(desk.finished) == 2


def test_pending_before_routing_starts_the_clocks_paused_with_the_time_before_it() -> None:
    desk = Desk(athens(23, 9))
    desk.opened()
    desk.at(athens(23, 10)).status("pending")
    events = desk.at(athens(23, 10, 30)).routed()
    assert [e.due_at for e in events if isinstance(e, SlaStarted)] == [None, None]
    assert desk.ticket.next_at is None
    # 1h used before the pause (09:00-10:00): 3h left from 11:00 -> 14:00.
    resumed = only(desk.at(athens(23, 11)).status("open"), SlaResumed, "first_response")
    assert resumed.due_at == athens(23, 14)


def test_reply_then_pending_before_routing_apply_in_the_order_they_happened() -> None:
    desk = Desk(athens(23, 9))
    desk.opened()
    desk.at(athens(23, 9, 20)).replied()
    desk.at(athens(23, 10)).status("pending")
    events = desk.at(athens(23, 10, 30)).routed()
    assert only(events, SlaMet).used_seconds == 20 * 60  # met before the pause
    resolution = desk.ticket.clock("resolution")
    assert resolution is not None and (resolution.status, resolution.used) == ("paused", H)


def test_reply_after_the_deadline_before_routing_is_a_breach_not_a_met() -> None:
    desk = Desk(athens(23, 9))
    desk.opened()
    desk.at(athens(23, 14)).replied()
    events = desk.at(athens(23, 14, 30)).routed()
    breached = only(events, SlaBreached)
    # Due 13:00 (4h from 09:00); announced at 14:30.
    assert (breached.metric, breached.due_at, breached.late_by_seconds) == (
        "first_response",
        athens(23, 13),
        5400,
    )
    assert not [e for e in events if isinstance(e, SlaMet)]
    clock = desk.finished[-1].clock
    assert (clock.status, clock.used) == ("breached", 5 * H)


def test_the_plan_of_the_opened_ticket_is_kept_until_routing_says_otherwise() -> None:
    desk = Desk(athens(23, 9))
    desk.opened(plan="enterprise")
    assert desk.ticket.plan == "enterprise" and desk.ticket.correlation_id == "c-1"
    events = desk.routed(plan="enterprise")
    assert only(events, SlaStarted, "first_response").due_at == athens(23, 11)


# --- the shipped configuration ------------------------------------------------------


def test_shipped_default_rule_on_a_greek_team() -> None:
    policies = load_yaml(ROOT / "config" / "sla.yaml", SlaPolicies)
    rules = Rules(policies, CALENDARS, "shipped")
    desk = Desk(athens(20, 15), rules=rules)  # Friday 15:00 Athens
    events = desk.routed(priority="P3", team="technical")
    # 3h: Fri 15-17 (2h) + Mon 09-10 -> Mon 10:00. 8h: Fri 2h + Mon 09-15 -> Mon 15:00.
    assert only(events, SlaStarted, "first_response").due_at == athens(23, 10)
    assert only(events, SlaStarted, "resolution").due_at == athens(23, 15)
    desk.at(athens(20, 15, 30)).replied()
    # Resolution: 4 business hours (Fri 2h + Mon 2h) -> Mon 11:00: its 50% level and the
    # call_customer prompt, both at once.
    events = desk.tick()
    assert desk.now == athens(23, 11)
    prompt = [e for e in events if isinstance(e, SlaWarning) and e.prompt == "call_customer"]
    assert len(prompt) == 1 and prompt[0].remaining_seconds == 4 * 3600
    assert prompt[0].level_percent == 50 and prompt[0].colour == "green"
    assert only(desk.tick(), SlaWarning).colour == "amber"  # 75%: Mon 13:00
    assert only(desk.tick(), SlaWarning).colour == "red"  # 90%: Mon 14:12
    breached = only(desk.tick(), SlaBreached)
    assert (desk.now, breached.metric, breached.colour) == (athens(23, 15), "resolution", "red")
    assert desk.ticket.colour == "red" and desk.ticket.next_at is None
