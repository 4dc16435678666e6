"""Intake's rules about customers: identities across channels, merges, repeat topics."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.intake.config import PhoneLine, PhoneRules
from services.intake.domain import (
    identities_of,
    new_customer_id,
    repeat_of,
    similarity,
    survivor,
    topic_terms,
)
from services.intake.rejections import ContactRejected
from shared.events import ContactReceived

PHONE = PhoneRules(default_region="US", lines={"+302101234567": PhoneLine(region="GR")})


def contact(message: dict[str, object], contact_id: str = "c-1") -> ContactReceived:
    return ContactReceived(contact_id=contact_id, message=message)


def test_email_identity_is_the_lowercased_address() -> None:
    c = contact({"channel": "email", "from_address": "Ana.Silva@Example.COM", "body": "hi"})
    assert [i.key for i in identities_of(c, PHONE)] == ["email:ana.silva@example.com"]


def test_a_national_number_is_read_in_the_region_of_the_line_it_called() -> None:
    national = contact(
        {"channel": "phone", "caller_number": "210 123 4567", "line": "+302101234567"}
    )
    international = contact({"channel": "phone", "caller_number": "+30 210-123-4567"})
    assert identities_of(national, PHONE)[0].key == "phone:+302101234567"
    assert identities_of(international, PHONE) == identities_of(national, PHONE)


def test_an_unknown_line_falls_back_to_the_default_region() -> None:
    c = contact({"channel": "phone", "caller_number": "(415) 555-0133", "line": "+1999"})
    assert identities_of(c, PHONE)[0].key == "phone:+14155550133"


def test_persian_digits_in_a_phone_number_are_read() -> None:
    c = contact({"channel": "phone", "caller_number": "۰۲۱۸۸۷۷۶۶۵۵", "region": "IR"})
    assert identities_of(c, PHONE)[0].key == "phone:+982188776655"


def test_a_number_that_is_not_a_phone_number_is_a_typed_rejection() -> None:
    c = contact({"channel": "phone", "caller_number": "call me maybe"})
    with pytest.raises(ContactRejected, match="not a phone number") as caught:
        identities_of(c, PHONE)
    assert caught.value.rejected.kind == "invalid_phone"


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
    assert [i.key for i in identities_of(c, PHONE)] == ["chat:w-42", "email:ana@example.com"]


def test_a_customer_id_tells_nothing_of_the_address() -> None:
    ids = identities_of(contact({"channel": "email", "from_address": "a@b.example"}), PHONE)
    first, second = new_customer_id(), new_customer_id()
    assert first != second and "b.example" not in first
    assert ids[0].key == "email:a@b.example"


def test_the_oldest_record_survives_a_merge() -> None:
    older = {"_id": "z", "created_at": datetime(2026, 1, 1, tzinfo=UTC)}
    newer = {"_id": "a", "created_at": datetime(2026, 5, 1, tzinfo=UTC)}
    assert survivor([newer, older])["_id"] == "z"


def test_same_topic_in_other_words_is_recognised_as_a_repeat() -> None:
    first = topic_terms("Wi-Fi router keeps dropping the connection every evening")
    again = topic_terms("router dropping connection again this evening")
    other = topic_terms("Please send me last month's invoice")
    recent = [{"_id": "t1", "topic_terms": other}, {"_id": "t2", "topic_terms": first}]
    assert similarity(first, again) >= 0.3
    assert repeat_of(again, recent, 0.3) == "t2"
    assert repeat_of(topic_terms("password reset"), recent, 0.3) is None


def test_persian_topics_match_across_letter_forms_and_digits() -> None:
    arabic_forms = topic_terms("مشكل اتصال اينترنت از ديروز")
    persian_forms = topic_terms("مشکل اتصال اینترنت از دیروز")
    assert similarity(arabic_forms, persian_forms) == 1.0
