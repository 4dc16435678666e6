"""The notifier's pure logic: notices made of events and their console line; the board's rows,
how events change them, and who sees them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.notifier.domain.board import Change, Row, change_of, is_stale, merged
from services.notifier.domain.notices import Notice, describe_duration, line, notice_kind, notice_of
from services.notifier.domain.views import Viewer, audience, current_clock, view, viewer_of
from shared.directory import load_directory
from shared.events import (
    Event,
    SlaBreached,
    SlaMet,
    SlaPaused,
    SlaStarted,
    SlaWarning,
    TicketAgentReplied,
    TicketAssigned,
    TicketEscalated,
    TicketOpened,
    TicketQueued,
    TicketRouted,
    TicketStatusChanged,
    TicketTransferred,
    TicketTransfersExceeded,
)
from shared.ids import ticket_reference

DIRECTORY = load_directory(Path(__file__).resolve().parents[2] / "config")
DUE = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
REF = ticket_reference("t-42")


def _breach(**kw: Any) -> SlaBreached:
    values: dict[str, Any] = {
        "ticket_id": "t-42",
        "metric": "first_response",
        "team": "technical",
        "assignee_id": "ag-nika",
        "priority": "P2",
        "category": "network",
        "due_at": DUE,
        "occurred_at": DUE + timedelta(minutes=5),
        "late_by_seconds": 2.0,
    }
    return SlaBreached(**(values | kw))


def _warning(**kw: Any) -> SlaWarning:
    values: dict[str, Any] = {
        "ticket_id": "t-42",
        "metric": "next_reply",
        "team": "technical",
        "assignee_id": "ag-nika",
        "level_percent": 75,
        "due_at": DUE,
        "remaining_seconds": 900.0,
    }
    return SlaWarning(**(values | kw))


def _assigned(**kw: Any) -> TicketAssigned:
    values: dict[str, Any] = {
        "ticket_id": "t-42",
        "agent_id": "ag-nika",
        "team": "technical",
        "tier": "L2",
        "reason": "network skill",
    }
    return TicketAssigned(**(values | kw))


# --- notices -------------------------------------------------------------------------------


def test_a_breach_is_a_notice_of_how_late_it_is_with_the_tickets_facts() -> None:
    notice = notice_of(_breach(), subject="VPN down", customer="Acme")
    assert notice.kind == "sla_breach"
    assert (notice.ticket_id, notice.reference, notice.metric) == ("t-42", REF, "first_response")
    assert (notice.team, notice.assignee_id, notice.priority, notice.category) == (
        "technical",
        "ag-nika",
        "P2",
        "network",
    )
    assert (notice.subject, notice.customer, notice.level_percent) == ("VPN down", "Acme", 100)
    # Late by the deadline's distance, not the emitter's own lag.
    assert notice.overdue_seconds == 300
    assert notice.due_at == DUE and notice.urgent and notice.rung == 0


def test_a_breach_emitted_late_counts_the_larger_lateness() -> None:
    notice = notice_of(_breach(occurred_at=DUE + timedelta(seconds=1), late_by_seconds=90))
    assert notice.overdue_seconds == 90


def test_a_warning_is_a_notice_of_the_share_used_and_time_left() -> None:
    notice = notice_of(_warning(remaining_seconds=-5))
    assert notice.kind == "sla_warning"
    assert (notice.level_percent, notice.remaining_seconds, notice.prompt) == (75, 0.0, None)
    assert notice.overdue_seconds is None


def test_a_warning_with_a_prompt_is_a_prompt_notice() -> None:
    notice = notice_of(_warning(prompt="call_customer"))
    assert (notice.kind, notice.prompt) == ("sla_prompt", "call_customer")


def test_router_events_are_notices_of_assignment_escalation_and_transfers() -> None:
    assigned = notice_of(_assigned())
    assert (assigned.kind, assigned.assignee_id, assigned.team, assigned.to_tier) == (
        "assigned",
        "ag-nika",
        "technical",
        "L2",
    )
    assert assigned.reason == "network skill"
    escalated = notice_of(
        TicketEscalated(
            ticket_id="t-42", from_tier="L1", to_tier="L2", trigger="sla_warning", reason="slow"
        )
    )
    assert (escalated.kind, escalated.from_tier, escalated.to_tier, escalated.team) == (
        "escalated",
        "L1",
        "L2",
        None,
    )
    exceeded = notice_of(
        TicketTransfersExceeded(
            ticket_id="t-42",
            team="accounts",
            manager_id="mgr-accounts",
            transfer_count=4,
            limit=3,
            reason="passed around",
        )
    )
    assert (exceeded.kind, exceeded.team, exceeded.transfer_count) == (
        "transfers_exceeded",
        "accounts",
        4,
    )


def test_events_nobody_is_told_about_make_no_notice() -> None:
    replied = TicketAgentReplied(ticket_id="t-42", agent_id="ag-nika", body="hi")
    assert notice_kind(replied) is None
    with pytest.raises(ValueError, match="nobody is told"):
        notice_of(replied)


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(0, "0 s"), (40, "40 s"), (200, "3 min 20 s"), (3900, "1 h 5 min"), (90_061, "1 d 1 h")],
)
def test_durations_show_their_two_largest_units(seconds: float, words: str) -> None:
    assert describe_duration(seconds) == words


@pytest.mark.parametrize(
    ("notice", "text"),
    [
        (notice_of(_breach()), f"{REF} first response overdue by 5 min"),
        (notice_of(_warning()), f"{REF} next reply 75% used, 15 min left"),
        (
            notice_of(_warning(prompt="call_customer")),
            f"{REF} next reply 75% used, 15 min left: please phone the customer",
        ),
        (
            notice_of(_warning(prompt="send_invoice")),
            f"{REF} next reply 75% used, 15 min left: send invoice",
        ),
        (notice_of(_assigned()), f"{REF} assigned to you: network skill"),
        (
            notice_of(
                TicketEscalated(
                    ticket_id="t-42",
                    from_tier="L1",
                    to_tier="L3",
                    trigger="agent_request",
                    reason="x",
                )
            ),
            f"{REF} escalated L1 → L3: x",
        ),
    ],
)
def test_a_notice_reads_as_one_line(notice: Notice, text: str) -> None:
    assert line(notice) == text


def test_a_later_rung_says_the_escalation_was_not_acknowledged() -> None:
    notice = notice_of(_breach()).model_copy(update={"rung": 1})
    assert (
        line(notice)
        == f"{REF} first response overdue by 5 min (escalation step 2: not acknowledged)"
    )


# --- board: changes ------------------------------------------------------------------------


def _opened(**kw: Any) -> TicketOpened:
    values: dict[str, Any] = {
        "ticket_id": "t-42",
        "reference": REF,
        "contact_id": "c-1",
        "customer_id": "cu-1",
        "channel": "chat",
        "subject": "VPN",
        "occurred_at": DUE,
    }
    return TicketOpened(**(values | kw))


def _row(*events: Event) -> Row | None:
    row: Row | None = None
    for event in events:
        change = change_of(event)
        assert change is not None
        if not is_stale(row, change):
            row = merged(row, change)
    return row


def test_an_opened_ticket_sets_its_own_facts() -> None:
    change = change_of(_opened(customer_name="Acme"))
    assert change is not None
    assert (change.ticket_id, change.group, change.at) == ("t-42", "opened", DUE)
    assert change.fields["customer"] == "Acme"
    anonymous = change_of(_opened())
    assert anonymous is not None and anonymous.fields["customer"] == "cu-1"


def test_routing_events_set_team_agent_and_queue() -> None:
    routed = change_of(
        TicketRouted(
            ticket_id="t-42",
            category="network",
            subcategory="wifi",
            impact="high",
            urgency="low",
            priority="P2",
            tier="L1",
            team="technical",
            reason="x",
        )
    )
    assert routed is not None and routed.group == "routing"
    assert routed.fields == {"category": "network/wifi", "priority": "P2", "team": "technical"} | {
        "tier": "L1"
    }
    assigned = change_of(_assigned())
    assert assigned is not None
    assert assigned.fields == {"assignee_id": "ag-nika", "team": "technical", "queued": False}
    queued = change_of(
        TicketQueued(
            ticket_id="t-42", team="accounts", tier="L1", priority="P3", order="fifo", reason="x"
        )
    )
    assert queued is not None
    assert (queued.fields["assignee_id"], queued.fields["queued"]) == (None, True)
    to_queue = change_of(
        TicketTransferred(
            ticket_id="t-42",
            from_team="technical",
            to_team="accounts",
            transfer_count=1,
            reason="x",
        )
    )
    assert to_queue is not None
    assert to_queue.fields == {"assignee_id": None, "team": "accounts", "queued": True}
    escalated = change_of(
        TicketEscalated(
            ticket_id="t-42", from_tier="L1", to_tier="L2", trigger="sla_warning", reason="x"
        )
    )
    assert escalated is not None and (escalated.group, escalated.fields) == ("tier", {"tier": "L2"})


def test_a_resolved_or_closed_ticket_leaves_the_board_a_reopened_one_returns() -> None:
    for status, still_open in (("resolved", False), ("closed", False), ("reopened", True)):
        change = change_of(TicketStatusChanged(ticket_id="t-42", status=status))
        assert change is not None and change.group == "status"
        assert change.fields == {"status": status, "open": still_open}


def test_sla_events_set_their_own_metrics_clock() -> None:
    breached = change_of(_breach())
    assert breached is not None and breached.group == "sla:first_response"
    fields = breached.fields
    assert fields["clocks.first_response.breached"] is True
    assert fields["clocks.first_response.colour"] == "red"
    assert fields["clocks.first_response.due_at"] == DUE
    assert (fields["sla_team"], fields["sla_assignee_id"]) == ("technical", "ag-nika")
    paused = change_of(
        SlaPaused(ticket_id="t-42", metric="resolution", remaining_seconds=60, colour="amber")
    )
    assert paused is not None
    assert paused.fields["clocks.resolution.paused"] is True
    assert paused.fields["clocks.resolution.due_at"] is None
    met = change_of(SlaMet(ticket_id="t-42", metric="resolution", due_at=None, used_seconds=1))
    assert met is not None and met.fields == {"clocks.resolution.met": True}


def test_events_without_a_ticket_or_of_no_interest_change_nothing() -> None:
    assert change_of(TicketAgentReplied(ticket_id="t-42", agent_id="ag-nika", body="x")) is None
    assert change_of(_assigned().model_copy(update={"ticket_id": None})) is None


def test_merging_sets_nested_fields_and_remembers_each_groups_time() -> None:
    first = Change("t-42", "sla:resolution", DUE, {"clocks.resolution.colour": "green"})
    later = Change("t-42", "routing", DUE + timedelta(hours=1), {"team": "technical"})
    row = merged(merged(None, first), later)
    assert row["_id"] == "t-42" and row["open"] is True
    assert row["clocks"] == {"resolution": {"colour": "green"}}
    assert row["versions"] == {"sla:resolution": DUE, "routing": DUE + timedelta(hours=1)}
    assert row["updated_at"] == DUE + timedelta(hours=1)
    again = merged(row, Change("t-42", "sla:resolution", DUE, {"clocks.resolution.met": True}))
    assert again["clocks"]["resolution"] == {"colour": "green", "met": True}
    assert again["updated_at"] == DUE + timedelta(hours=1)


def test_an_older_event_of_a_group_is_stale_others_are_not() -> None:
    row = merged(None, Change("t-42", "routing", DUE, {"team": "technical"}))
    assert is_stale(row, Change("t-42", "routing", DUE - timedelta(seconds=1), {}))
    assert not is_stale(row, Change("t-42", "routing", DUE, {}))
    assert not is_stale(row, Change("t-42", "status", DUE - timedelta(days=1), {}))
    assert not is_stale(None, Change("t-42", "routing", DUE, {}))


def test_a_late_reassignment_never_undoes_a_newer_one() -> None:
    newer = _assigned(agent_id="ag-sergei", occurred_at=DUE + timedelta(minutes=1))
    older = _assigned(occurred_at=DUE)
    row = _row(newer, older)
    assert row is not None and row["assignee_id"] == "ag-sergei"


# --- board: views --------------------------------------------------------------------------


def test_a_row_as_the_console_receives_it() -> None:
    started = SlaStarted(
        ticket_id="t-42", metric="resolution", due_at=DUE, target_seconds=3600, occurred_at=DUE
    )
    row = _row(_opened(customer_name="Acme"), _assigned(occurred_at=DUE), started)
    assert row is not None
    shown = view(row)
    assert shown == {
        "ticket_id": "t-42",
        "reference": REF,
        "subject": "VPN",
        "customer": "Acme",
        "priority": None,
        "category": None,
        "team": "technical",
        "assignee_id": "ag-nika",
        "status": "open",
        "queued": False,
        "open": True,
        "sla": {
            "metric": "resolution",
            "due_at": DUE,
            "target_seconds": 3600,
            "colour": "green",
            "breached": False,
            "paused": False,
        },
        "updated_at": DUE,
    }


def test_a_row_known_only_from_sla_events_uses_their_facts() -> None:
    row = _row(_breach())
    assert row is not None
    shown = view(row)
    assert (shown["team"], shown["assignee_id"], shown["priority"]) == (
        "technical",
        "ag-nika",
        "P2",
    )
    assert shown["reference"] == REF and shown["queued"] is False
    assert shown["sla"]["breached"] is True and shown["sla"]["colour"] == "red"


def test_the_clock_shown_is_a_breached_one_then_the_soonest_due_never_a_met_one() -> None:
    clocks = {
        "resolution": {"metric": "resolution", "due_at": DUE, "breached": False},
        "next_reply": {"metric": "next_reply", "due_at": DUE + timedelta(hours=1)},
        "first_response": {"metric": "first_response", "due_at": DUE - timedelta(days=1)},
    }
    row: Row = {"_id": "t-42", "clocks": clocks}
    assert (current_clock(row) or {})["metric"] == "first_response"
    clocks["first_response"]["met"] = True
    assert (current_clock(row) or {})["metric"] == "resolution"
    clocks["next_reply"]["breached"] = True
    assert (current_clock(row) or {})["metric"] == "next_reply"
    assert current_clock({"_id": "t-1"}) is None and view({"_id": "t-1"})["sla"] is None


def test_a_row_without_an_assignee_is_queued() -> None:
    shown = view({"_id": "t-1", "team": "technical"})
    assert (shown["assignee_id"], shown["queued"], shown["open"]) == (None, True, True)


# --- board: who sees what ------------------------------------------------------------------


def _shown(team: str | None, assignee: str | None) -> dict[str, Any]:
    return view({"_id": "t-1", "team": team, "assignee_id": assignee})


def test_an_agent_sees_their_own_tickets_and_their_teams_queue() -> None:
    nika = Viewer("ag-nika", "Nika", "agent", ("technical",))
    assert nika.sees(_shown("technical", "ag-nika"))
    assert nika.sees(_shown("technical", None))
    assert not nika.sees(_shown("technical", "ag-sergei"))
    assert not nika.sees(_shown("accounts", None))


def test_a_manager_or_lead_sees_every_ticket_of_their_teams() -> None:
    manager = Viewer("mgr-technical", "Eleni", "manager", ("technical",))
    assert manager.sees(_shown("technical", "ag-sergei"))
    assert manager.sees(_shown("technical", None))
    assert not manager.sees(_shown("accounts", "ag-john"))


def test_the_audience_of_a_row_is_its_agent_or_its_teams_agents_and_the_heads() -> None:
    assert audience(_shown("technical", "ag-nika"), DIRECTORY) == {
        "ag-nika",
        "lead-technical",
        "mgr-technical",
    }
    assert audience(_shown("technical", None), DIRECTORY) == {
        "ag-maria",
        "ag-nika",
        "ag-sergei",
        "ag-leon",
        "lead-technical",
        "mgr-technical",
    }
    # Accounts has no lead.
    assert audience(_shown("accounts", "ag-john"), DIRECTORY) == {"ag-john", "mgr-accounts"}
    assert audience(_shown(None, "ag-nika"), DIRECTORY) == {"ag-nika"}
    assert audience(_shown("no-such-team", None), DIRECTORY) == set()


def test_everyone_seeing_a_row_sees_it_in_their_console() -> None:
    for row in (_shown("technical", "ag-nika"), _shown("technical", None)):
        for person_id in audience(row, DIRECTORY):
            viewer = viewer_of(person_id, DIRECTORY)
            assert viewer is not None and viewer.sees(row), person_id


def test_a_token_holder_is_a_manager_lead_or_agent_of_the_directory() -> None:
    assert viewer_of("mgr-technical", DIRECTORY) == Viewer(
        "mgr-technical", "Eleni Papadopoulou", "manager", ("technical",)
    )
    assert viewer_of("lead-technical", DIRECTORY) == Viewer(
        "lead-technical", "Ivan Petrov", "lead", ("technical",)
    )
    assert viewer_of("ag-john", DIRECTORY) == Viewer(
        "ag-john", "John Carter", "agent", ("accounts",)
    )
    assert viewer_of("duty-desk", DIRECTORY) is None
    assert viewer_of("nobody", DIRECTORY) is None
    john = viewer_of("ag-john", DIRECTORY)
    assert john is not None and john.as_json() == {
        "person_id": "ag-john",
        "name": "John Carter",
        "role": "agent",
        "teams": ["accounts"],
    }
