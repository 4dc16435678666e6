"""Contacts posted by adapters: a valid contact or a typed rejection, whatever is posted."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.intake.config import IntakeRules
from services.intake.domain.submissions import normalise_submission
from services.intake.rejections import Rejected
from shared.events import ContactReceived

RULES = IntakeRules()


def rejection(data: Any) -> Rejected:
    result = normalise_submission(data, RULES)
    assert isinstance(result, Rejected), result
    return result


def test_a_good_contact_is_accepted() -> None:
    result = normalise_submission(
        {
            "contact_id": "c-1",
            "message": {
                "channel": "chat",
                "chat_user_id": "u",
                "conversation_id": "v",
                "text": "hi",
            },
        },
        RULES,
    )
    assert isinstance(result, ContactReceived)


def test_each_kind_of_bad_contact_has_its_own_reason() -> None:
    assert rejection({"contact_id": "x", "message": {"channel": "fax"}}).kind == "unknown_channel"
    no_sender = rejection({"contact_id": "x", "message": {"channel": "email", "body": "hi"}})
    assert no_sender.kind == "no_identity" and "from_address" in no_sender.detail
    empty = rejection(
        {"contact_id": "x", "message": {"channel": "email", "from_address": "a@b.example"}}
    )
    assert empty.kind == "empty_contact"
    phone = rejection({"contact_id": "x", "message": {"channel": "phone", "caller_number": "?"}})
    assert phone.kind == "invalid_phone"
    big = {"channel": "chat", "chat_user_id": "u", "conversation_id": "v", "text": "x" * 100_001}
    assert rejection({"contact_id": "x", "message": big}).kind == "oversize"
    assert rejection([1, 2]).kind == "invalid_contact"
    assert "contact_id" in rejection({"message": big}).detail


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)
channels = st.sampled_from(["email", "phone", "chat", "fax", "", None])
fields = st.sampled_from(
    [
        "from_address",
        "body",
        "subject",
        "caller_number",
        "region",
        "line",
        "chat_user_id",
        "conversation_id",
        "text",
        "kind",
        "email",
        "outcome",
        "queue_wait_seconds",
        "references",
    ]
)
messages = st.builds(
    lambda channel, extra: {"channel": channel, **extra},
    channels,
    st.dictionaries(fields, json_values, max_size=6),
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        json_values,
        st.builds(
            lambda cid, message, language: {
                "contact_id": cid,
                "message": message,
                "language": language,
            },
            json_values,
            messages,
            json_values,
        ),
    )
)
def test_random_structures_give_a_contact_or_a_typed_rejection(data: Any) -> None:
    result = normalise_submission(data, RULES)
    assert isinstance(result, ContactReceived | Rejected)
    if isinstance(result, Rejected):
        assert result.detail
