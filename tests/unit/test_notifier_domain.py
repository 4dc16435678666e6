"""The notifier's pure logic: who is told about a breach, what the email says, push tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from services.notifier.auth import sign_token, verify_token
from services.notifier.domain import (
    Recipient,
    delivery_key,
    describe_duration,
    no_recipient_reason,
    push_message,
    push_recipients,
    recipients_for,
    render_email,
)
from services.notifier.email import OutgoingEmail, build_message
from shared.directory import Directory, load_directory
from shared.events import SlaBreached, TicketAssigned
from shared.ids import ticket_reference

ROOT = Path(__file__).resolve().parents[2]
DUE = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def directory() -> Directory:
    return load_directory(ROOT / "config")


def _breach(metric: str = "first_response", **kw: Any) -> SlaBreached:
    values: dict[str, Any] = {
        "ticket_id": "t-42",
        "metric": metric,
        "team": "technical",
        "assignee_id": "ag-nika",
        "priority": "P2",
        "due_at": DUE,
        "occurred_at": DUE + timedelta(seconds=3),
        "late_by_seconds": 3.0,
    }
    values.update(kw)
    return SlaBreached(**values)


def test_first_response_breach_goes_to_the_assigned_agent(directory: Directory) -> None:
    [recipient] = recipients_for(_breach(), directory)
    assert (recipient.person_id, recipient.email, recipient.role) == (
        "ag-nika",
        "nika@helpdesk.example",
        "agent",
    )


def test_unassigned_first_response_breach_goes_to_the_team_lead(directory: Directory) -> None:
    [recipient] = recipients_for(_breach(assignee_id=None), directory)
    assert (recipient.person_id, recipient.role) == ("lead-technical", "lead")


def test_unassigned_breach_in_a_team_without_lead_goes_to_its_manager(
    directory: Directory,
) -> None:
    [recipient] = recipients_for(_breach(assignee_id=None, team="accounts"), directory)
    assert (recipient.person_id, recipient.email) == (
        "mgr-accounts",
        "sara.manager@helpdesk.example",
    )


def test_resolution_breach_goes_to_the_team_manager_not_the_agent(directory: Directory) -> None:
    [recipient] = recipients_for(_breach("resolution"), directory)
    assert (recipient.person_id, recipient.email, recipient.role) == (
        "mgr-technical",
        "eleni.manager@helpdesk.example",
        "manager",
    )


def test_resolution_breach_without_team_uses_the_assignees_team(directory: Directory) -> None:
    [recipient] = recipients_for(_breach("resolution", team=None, assignee_id="ag-olga"), directory)
    assert recipient.person_id == "mgr-accounts"


def test_breach_for_an_unknown_team_and_no_agent_has_no_recipient(directory: Directory) -> None:
    assert recipients_for(_breach(assignee_id=None, team="nobody"), directory) == []
    assert recipients_for(_breach("resolution", team="nobody"), directory) == []


def test_email_subject_carries_the_ticket_reference_for_threading(directory: Directory) -> None:
    event = _breach(occurred_at=DUE + timedelta(minutes=2, seconds=5), late_by_seconds=0.2)
    [recipient] = recipients_for(event, directory)
    subject, text = render_email(event, recipient)
    reference = ticket_reference("t-42")
    assert subject == f"[{reference}] First response overdue (P2)"
    assert subject.startswith("[HD-")
    assert "t-42" in text
    assert "First response" in text
    assert "2026-01-05 09:00:00 UTC" in text
    assert "2 min 5 s" in text


def test_resolution_email_asks_the_manager_to_step_in(directory: Directory) -> None:
    event = _breach("resolution", priority=None)
    [recipient] = recipients_for(event, directory)
    subject, text = render_email(event, recipient)
    assert subject == f"[{ticket_reference('t-42')}] Resolution overdue"
    assert text.startswith("Hello Eleni Papadopoulou,")
    assert "step in" in text


@pytest.mark.parametrize("name", ["نیکا احمدی", "Ελένη Παπαδοπούλου"])
def test_email_to_persian_and_greek_names_survives_encoding(name: str) -> None:
    recipient = Recipient("p-1", name, "p1@helpdesk.example", "fa", "agent")
    subject, text = render_email(_breach(), recipient)
    assert text.startswith(f"Hello {name},")
    mail = OutgoingEmail("p1@helpdesk.example", name, subject, text, "e:p-1:email")
    raw = build_message(mail, "helpdesk@helpdesk.example").as_bytes()
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["To"].addresses[0].display_name == name
    assert parsed["Subject"] == subject
    body = parsed.get_body(("plain",))
    assert body is not None and name in body.get_content()


def test_same_delivery_gets_the_same_message_id() -> None:
    mail = OutgoingEmail("a@helpdesk.example", "A", "s", "t", "e-1:ag-nika:email")
    first = build_message(mail, "helpdesk@helpdesk.example")["Message-ID"]
    again = build_message(mail, "helpdesk@helpdesk.example")["Message-ID"]
    assert first == again and first.endswith("@helpdesk.example>")


def test_delivery_key_names_event_recipient_and_channel() -> None:
    assert delivery_key("e-1", "ag-nika", "email") == "e-1:ag-nika:email"


def test_push_delivery_key_names_the_replica_too() -> None:
    assert delivery_key("e-1", "ag-nika", "push", "r-a") == "e-1:ag-nika:push:r-a"
    assert delivery_key("e-1", "ag-nika", "push", "r-a") != delivery_key(
        "e-1", "ag-nika", "push", "r-b"
    )


def test_no_recipient_reason_names_metric_ticket_team_and_assignee() -> None:
    reason = no_recipient_reason(_breach(team="nobody", assignee_id="ag-ghost"))
    for part in ("first_response", "t-42", "'nobody'", "'ag-ghost'"):
        assert part in reason


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (40, "40 s"), (125, "2 min 5 s"), (3_900, "1 h 5 min"), (90_061, "1 d 1 h")],
)
def test_durations_read_shortly(seconds: int, text: str) -> None:
    assert describe_duration(timedelta(seconds=seconds)) == text


def test_assignment_is_pushed_to_the_agent_with_its_reason(directory: Directory) -> None:
    event = TicketAssigned(ticket_id="t-7", agent_id="ag-maria", team="technical", reason="skill")
    assert push_recipients(event, directory) == ["ag-maria"]
    message = push_message(event)
    assert message["type"] == "ticket.assigned"
    assert message["reference"] == ticket_reference("t-7")
    assert message["text"] == f"{ticket_reference('t-7')} assigned to you: skill"
    assert message["event"]["event_id"] == str(event.event_id)


def test_breach_push_goes_to_the_same_people_as_the_email(directory: Directory) -> None:
    assert push_recipients(_breach(), directory) == ["ag-nika"]
    assert push_recipients(_breach("resolution"), directory) == ["mgr-technical"]


def test_token_verifies_only_for_its_person_and_secret() -> None:
    token = sign_token("s3cret", "ag-nika")
    assert len(token) == 64
    assert verify_token("s3cret", "ag-nika", token)
    assert not verify_token("s3cret", "ag-sergei", token)
    assert not verify_token("other", "ag-nika", token)
    assert not verify_token("s3cret", "ag-nika", None)
    assert not verify_token("s3cret", "ag-nika", "")
    assert not verify_token("s3cret", "ag-nika", "نادرست")
