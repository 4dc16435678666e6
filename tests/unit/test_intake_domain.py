"""Intake's pure rules: identities, ticket ids, allowed agent actions."""

from __future__ import annotations

import pytest

from services.intake.domain import (
    InvalidContact,
    InvalidTransition,
    customer_id_for,
    identities_of,
    open_ticket,
    status_after,
)
from shared.events import ContactReceived
from shared.ids import ticket_id_for_contact, ticket_reference


def contact(message: dict[str, object], contact_id: str = "c-1") -> ContactReceived:
    return ContactReceived(contact_id=contact_id, message=message)


def test_email_identity_is_the_lowercased_address() -> None:
    c = contact({"channel": "email", "from_address": "Ana.Silva@Example.COM", "body": "hi"})
    assert [i.key for i in identities_of(c, "US")] == ["email:ana.silva@example.com"]


def test_phone_numbers_are_normalised_to_e164_with_the_lines_region() -> None:
    national = contact({"channel": "phone", "caller_number": "210 123 4567", "region": "GR"})
    international = contact({"channel": "phone", "caller_number": "+30 210-123-4567"})
    assert identities_of(national, "US")[0].key == "phone:+302101234567"
    assert identities_of(international, "US") == identities_of(national, "US")


def test_persian_digits_in_a_phone_number_are_read() -> None:
    c = contact({"channel": "phone", "caller_number": "۰۲۱۸۸۷۷۶۶۵۵", "region": "IR"})
    assert identities_of(c, "US")[0].key == "phone:+982188776655"


def test_a_number_that_is_not_a_phone_number_is_refused_with_a_reason() -> None:
    c = contact({"channel": "phone", "caller_number": "call me maybe"})
    with pytest.raises(InvalidContact, match="not a phone number"):
        identities_of(c, "US")


def test_chat_with_an_email_proves_both_identities() -> None:
    c = contact(
        {
            "channel": "chat",
            "chat_user_id": "w-42",
            "conversation_id": "conv-1",
            "email": "ana@example.com",
            "text": "hello",
        }
    )
    assert [i.key for i in identities_of(c, "US")] == ["chat:w-42", "email:ana@example.com"]


def test_ticket_id_and_customer_id_are_deterministic() -> None:
    c = contact({"channel": "email", "from_address": "a@example.com", "subject": "S", "body": "B"})
    first = open_ticket(c, "cust", "standard", 1000)
    again = open_ticket(c, "cust", "standard", 1000)
    assert first.ticket_id == again.ticket_id == ticket_id_for_contact("c-1")
    assert first.event_id == again.event_id
    assert first.reference == ticket_reference(first.ticket_id)
    assert first.reference.startswith("HD-") and len(first.reference) == 9
    ids = identities_of(c, "US")
    assert customer_id_for(ids[0]) == customer_id_for(ids[0])


def test_empty_or_oversize_contacts_are_refused() -> None:
    empty = contact({"channel": "email", "from_address": "a@example.com", "body": "  "})
    with pytest.raises(InvalidContact, match="no subject and no text"):
        open_ticket(empty, "cust", "standard", 1000)
    big = contact(
        {"channel": "chat", "chat_user_id": "u", "conversation_id": "c", "text": "x" * 50}
    )
    with pytest.raises(InvalidContact, match="limit is 10"):
        open_ticket(big, "cust", "standard", 10)


def test_missed_call_gets_a_readable_subject() -> None:
    c = contact({"channel": "phone", "caller_number": "+442071234567", "outcome": "missed"})
    assert open_ticket(c, "cust", "standard", 1000).subject == "Missed call from +442071234567"


def test_agent_actions_follow_the_status() -> None:
    assert status_after("open", "reply") is None
    assert status_after("open", "resolve") == "resolved"
    with pytest.raises(InvalidTransition):
        status_after("resolved", "resolve")
    with pytest.raises(InvalidTransition):
        status_after("closed", "reply")
