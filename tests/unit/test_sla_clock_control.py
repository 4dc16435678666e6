"""SLA clock control on a fake clock: pause and resume, recompute, reopening."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.sla.domain import clocks
from shared.events import SlaMet, SlaPaused, SlaRecomputed, SlaResumed, SlaStarted, SlaWarning
from tests.unit.sla_desk import (
    CALENDARS,
    Desk,
    H,
    M,
    _rules,
    athens,
    kinds,
    moscow,
    only,
)

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
