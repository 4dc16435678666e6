"""SLA inputs on a fake clock: next reply, what arrives before routing, the shipped rule."""

from __future__ import annotations

from services.sla.domain.policies import SlaPolicies
from services.sla.domain.ticket import Rules
from shared.config import load_yaml
from shared.events import SlaBreached, SlaMet, SlaResumed, SlaStarted, SlaWarning
from tests.unit.sla_desk import (
    CALENDARS,
    ROOT,
    Desk,
    H,
    athens,
    kinds,
    only,
)

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
