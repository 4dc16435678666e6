"""Which ticket a contact joins, and what a reply to a closed ticket does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.intake.domain import (
    Facts,
    body_reference,
    close_chat,
    header_keys,
    join_ticket,
    open_ticket,
    outcome,
    own_keys,
    subject_reference,
    with_reference,
)
from shared.events import ContactReceived, TicketContactAppended, TicketOpened, TicketStatusChanged
from shared.ids import ticket_id_for_contact, ticket_reference

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
FACTS = Facts(customer_id="cust-1", plan="standard", language="en")


def mail(contact_id: str = "m-1", **fields: object) -> ContactReceived:
    message = {"channel": "email", "from_address": "ana@example.com", "body": "hello", **fields}
    return ContactReceived(contact_id=contact_id, message=message)


def test_in_reply_to_comes_before_references_newest_first() -> None:
    c = mail(in_reply_to="<C@x>", references=["<A@x>", "<B@x>", "<C@x>"])
    assert header_keys(c) == ["msgid:c@x", "msgid:b@x", "msgid:a@x"]


def test_a_mail_is_found_later_by_its_own_message_id() -> None:
    assert own_keys(mail(message_id="<Abc@Mail.Example>")) == ["msgid:abc@mail.example"]


def test_the_reference_is_read_from_the_subject_then_from_a_marker_in_the_body() -> None:
    reference = ticket_reference("t-1")
    assert subject_reference(mail(subject=f"Re: Wi-Fi [#{reference.lower()}]")) == reference
    assert subject_reference(mail(subject="Wi-Fi HD-ABCDEF")) is None
    quoted = mail(quoted_text=f"> Reference: [#{reference}]. Please keep it")
    assert body_reference(quoted) == reference
    assert with_reference("Re: Wi-Fi", reference) == f"Re: Wi-Fi [#{reference}]"
    assert with_reference(f"Re: x [#{reference}]", reference) == f"Re: x [#{reference}]"


def test_a_closed_ticket_reopens_within_the_window_and_is_followed_after_it() -> None:
    window = timedelta(days=14)
    assert outcome("open", None, NOW, window) == "append"
    assert outcome("pending", None, NOW, window) == "append"
    assert outcome("resolved", NOW - timedelta(days=13), NOW, window) == "reopen"
    assert outcome("closed", NOW - timedelta(days=15), NOW, window) == "open_linked"


def test_opening_is_deterministic_and_carries_the_matching_form() -> None:
    c = mail(subject="مشكل", body="كيبورد ۱۲ تا")
    first, again = open_ticket(c, FACTS), open_ticket(c, FACTS)
    event = first.events[0]
    assert isinstance(event, TicketOpened)
    assert event.event_id == again.events[0].event_id
    assert event.ticket_id == ticket_id_for_contact("m-1")
    assert event.body == "كيبورد ۱۲ تا"
    assert "کیبورد 12" in event.match_text


def test_a_missed_call_opens_a_call_back_ticket_with_its_wait() -> None:
    call = ContactReceived(
        contact_id="call-1",
        message={
            "channel": "phone",
            "caller_number": "+442071234567",
            "outcome": "missed",
            "queue_wait_seconds": 95,
        },
    )
    event = open_ticket(call, FACTS).events[0]
    assert isinstance(event, TicketOpened)
    assert event.call_back and event.queue_wait_seconds == 95
    assert event.subject == "Call back +442071234567"


def test_joining_a_resolved_ticket_reopens_it_before_appending() -> None:
    ticket = {"_id": "t-9", "status": "resolved", "contact_id": "first"}
    decision = join_ticket(mail("m-2"), ticket, FACTS, "reference", reopen=True)
    reopened, appended = decision.events
    assert isinstance(reopened, TicketStatusChanged) and reopened.status == "reopened"
    assert isinstance(appended, TicketContactAppended) and appended.matched_by == "reference"
    assert {e.ticket_id for e in decision.events} == {"t-9"}
    assert decision.outcome == "reopened"


def test_a_closed_chat_without_an_agent_reply_stays_open() -> None:
    ticket = {"_id": "t-3", "status": "open", "contact_id": "c"}

    def closed(replied: bool) -> ContactReceived:
        return ContactReceived(
            contact_id=f"close-{replied}",
            message={
                "channel": "chat",
                "chat_user_id": "w",
                "conversation_id": "conv",
                "kind": "closed",
                "agent_replied": replied,
            },
        )

    unanswered = close_chat(closed(False), ticket, "cust")
    assert unanswered.events == [] and unanswered.note and "follow-up" in unanswered.note
    answered = close_chat(closed(True), ticket, "cust")
    (resolved,) = answered.events
    assert isinstance(resolved, TicketStatusChanged) and resolved.status == "resolved"
