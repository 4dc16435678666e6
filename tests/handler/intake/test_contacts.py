"""Contacts on Kafka become tickets once; customers are recognised and merged across channels."""

from __future__ import annotations

from shared.events import TicketOpened
from tests.handler.intake.support import Desk

EMAIL = {
    "channel": "email",
    "from_address": "ana@example.com",
    "subject": "Wi-Fi",
    "body": "My wifi keeps dropping",
}


async def test_a_contact_opens_one_ticket_even_when_delivered_twice_or_republished(
    desk: Desk,
) -> None:
    for _ in range(3):  # every publish carries a new event id; the contact id is the same
        await desk.contact(EMAIL, contact_id="mail-1")

    opened = desk.events("ticket.opened")
    assert len(opened) == 1
    event = TicketOpened.model_validate(opened[0])
    assert event.correlation_id == "mail-1"
    assert event.language == "en"
    assert await desk.service.db["tickets"].count_documents({}) == 1


async def test_language_is_detected_and_persian_is_matched_in_its_normal_form(desk: Desk) -> None:
    await desk.contact(
        {
            "channel": "chat",
            "chat_user_id": "w-1",
            "conversation_id": "cv-1",
            "text": "سلام، اينترنت من از ديروز قطع است. كد ۱۲۳",
        },
    )
    await desk.contact(
        {
            "channel": "email",
            "from_address": "ivan@example.ru",
            "subject": "Не работает интернет",
            "body": "Здравствуйте, у меня не работает интернет с утра.",
        }
    )
    await desk.contact(
        {
            "channel": "email",
            "from_address": "eleni@example.gr",
            "subject": "Πρόβλημα σύνδεσης",
            "body": "Καλημέρα, δεν έχω σύνδεση στο διαδίκτυο από χθες.",
        }
    )
    persian, russian, greek = desk.events("ticket.opened")
    assert [persian["language"], russian["language"], greek["language"]] == ["fa", "ru", "el"]
    assert persian["body"].startswith("سلام، اينترنت")  # kept as written
    assert "اینترنت" in persian["match_text"] and "123" in persian["match_text"]


async def test_a_chat_that_proves_two_records_are_one_person_merges_them_with_an_audit(
    desk: Desk,
) -> None:
    await desk.contact(EMAIL, contact_id="mail-2")
    await desk.contact(
        {
            "channel": "chat",
            "chat_user_id": "w-9",
            "conversation_id": "cv-9",
            "text": "Still no internet",
        },
        contact_id="chat-1",
    )
    by_mail, by_chat = desk.events("ticket.opened")
    assert by_mail["customer_id"] != by_chat["customer_id"]

    # The same chat visitor now gives the email address: both records are one customer.
    await desk.contact(
        {
            "channel": "chat",
            "chat_user_id": "w-9",
            "conversation_id": "cv-10",
            "email": "Ana@Example.com",
            "text": "Is my router broken?",
        },
        contact_id="chat-2",
    )
    third = desk.events("ticket.opened")[-1]
    survivor = third["customer_id"]
    assert survivor in (by_mail["customer_id"], by_chat["customer_id"])
    merged = ({by_mail["customer_id"], by_chat["customer_id"]} - {survivor}).pop()

    for opened in desk.events("ticket.opened"):
        await desk.route(opened["ticket_id"])
    customer = await desk.read(f"/customers/{survivor}")
    assert sorted(customer["identities"]) == ["chat:w-9", "email:ana@example.com"]
    assert len(customer["tickets"]) == 3
    (merge,) = customer["merges"]
    assert merge["merged"] == merged and merge["proved_by_contact"] == "chat-2"
    followed = await desk.read(f"/customers/{merged}")
    assert followed["customer_id"] == survivor


async def test_the_same_topic_again_within_days_is_flagged_as_a_repeat(desk: Desk) -> None:
    await desk.contact({**EMAIL, "subject": "Router keeps dropping the connection"})
    await desk.contact(
        {**EMAIL, "subject": "Invoice for October", "body": "Please send the invoice"}
    )
    await desk.contact(
        {**EMAIL, "subject": "connection dropping again", "body": "The router keeps dropping"}
    )
    first, invoice, again = desk.events("ticket.opened")
    assert first["repeat_of"] is None and invoice["repeat_of"] is None
    assert again["repeat_of"] == first["ticket_id"]


async def test_bad_contacts_reach_the_dead_letter_topic_with_a_typed_reason(desk: Desk) -> None:
    await desk.contact({"channel": "fax"})
    await desk.contact({"channel": "phone", "caller_number": "not a number"})
    await desk.contact({"channel": "email", "from_address": "a@b.example", "body": "  "})
    await desk.contact(
        {"channel": "chat", "chat_user_id": "u", "conversation_id": "never", "kind": "closed"}
    )
    await desk.contact(EMAIL)

    reasons = [letter["reason"] for letter in desk.letters]
    assert [letter["source_topic"] for letter in desk.letters] == [
        desk.settings.topics.contacts
    ] * 4
    assert "message" in reasons[0]
    assert reasons[1].startswith("ContactRejected: invalid_phone: caller number 'not a number'")
    assert reasons[2].startswith("ContactRejected: empty_contact:")
    assert reasons[3].startswith("ContactRejected: invalid_contact: chat never closed")
    assert len(desk.events("ticket.opened")) == 1


async def test_a_missed_call_opens_a_call_back_and_repeated_calls_join_it(desk: Desk) -> None:
    call = {"channel": "phone", "caller_number": "210 123 4567", "line": "+302101234567"}
    await desk.contact({**call, "outcome": "missed", "queue_wait_seconds": 240})
    await desk.contact(
        {**call, "outcome": "voicemail", "queue_wait_seconds": 30, "summary": "Please call me"}
    )
    await desk.contact(
        {
            **call,
            "outcome": "answered",
            "queue_wait_seconds": 5,
            "duration_seconds": 300,
            "agent_id": "ag-nika",
        }
    )

    (opened,) = desk.events("ticket.opened")
    assert opened["call_back"] and opened["queue_wait_seconds"] == 240
    assert opened["subject"] == "Call back 210 123 4567"
    appended = desk.events("ticket.contact_appended", opened["ticket_id"])
    assert [a["matched_by"] for a in appended] == ["repeat call", "repeat call"]
    assert [a["queue_wait_seconds"] for a in appended] == [30, 5]

    report = await desk.read("/reports/calls", "ops-rin")
    assert report["calls"] == 3
    assert report["by_outcome"] == {"missed": 1, "voicemail": 1, "answered": 1}
    assert report["wait_seconds"]["max"] == 240


async def test_a_chat_is_one_ticket_and_a_chat_closed_unanswered_stays_open(desk: Desk) -> None:
    chat = {"channel": "chat", "chat_user_id": "w-5", "conversation_id": "cv-5"}
    for text in ("Hello", "My order did not arrive", "Order 5521"):
        await desk.contact({**chat, "text": text})
    await desk.contact({**chat, "kind": "closed", "agent_replied": False})

    (opened,) = desk.events("ticket.opened")
    appended = desk.events("ticket.contact_appended", opened["ticket_id"])
    assert [a["body"] for a in appended] == ["My order did not arrive", "Order 5521"]
    await desk.route(opened["ticket_id"])
    ticket = await desk.read(f"/tickets/{opened['ticket_id']}")
    assert ticket["status"] == "open"
    assert "follow-up" in ticket["history"][-1]["body"]

    other = {"channel": "chat", "chat_user_id": "w-6", "conversation_id": "cv-6"}
    await desk.contact({**other, "text": "Password reset please"})
    await desk.contact({**other, "kind": "closed", "agent_replied": True})
    answered = desk.events("ticket.opened")[-1]["ticket_id"]
    (resolved,) = desk.events("ticket.status_changed", answered)
    assert resolved["status"] == "resolved"
