"""SLA rules on a fake clock: starting, the warning ladder, breaches, met targets, ids."""

from __future__ import annotations

from datetime import datetime

from services.sla.domain import announce, transitions
from shared.events import SlaBreached, SlaMet, SlaStarted, SlaWarning
from tests.unit.sla_desk import (
    RULES,
    Desk,
    H,
    athens,
    kinds,
    only,
)

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
