"""Contacts posted by adapters: any structure in, a valid contact or a typed rejection out."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from services.intake.config import IntakeRules
from services.intake.domain.contacts import check
from services.intake.domain.customers import identities_of
from services.intake.rejections import ContactRejected, Rejected
from shared.events import ContactReceived

_CHANNELS = ("email", "phone", "chat")
_IDENTITY_FIELDS = {"from_address", "caller_number", "chat_user_id"}


def _kind_of(exc: ValidationError) -> Rejected:
    errors = exc.errors(include_url=False)
    for error in errors:
        if error["type"] == "union_tag_invalid" or error["type"] == "union_tag_not_found":
            return Rejected("unknown_channel", f"message.channel must be one of {list(_CHANNELS)}")
    for error in errors:
        location = error["loc"]
        if error["type"] == "missing" and location and location[-1] in _IDENTITY_FIELDS:
            return Rejected("no_identity", f"{'.'.join(map(str, location))} is required")
    details = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'contact'}: {e['msg']}" for e in errors[:5]
    )
    return Rejected("invalid_contact", details)


def normalise_submission(data: Any, rules: IntakeRules) -> ContactReceived | Rejected:
    """Validate a posted contact fully (shape, text, identity) without touching any store."""
    if not isinstance(data, dict):
        return Rejected("invalid_contact", f"a contact is a JSON object, not {type(data).__name__}")
    try:
        contact = ContactReceived.model_validate({**data, "event_type": "contact.received"})
    except ValidationError as exc:
        return _kind_of(exc)
    except (TypeError, ValueError) as exc:
        return Rejected("invalid_contact", str(exc))
    try:
        check(contact, rules.mail.max_text_chars)
        identities_of(contact, rules.phone)
    except ContactRejected as exc:
        return exc.rejected
    return contact
