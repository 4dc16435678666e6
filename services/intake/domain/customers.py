"""Who the customer is: identities across channels, which record survives a merge, repeat topics."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import phonenumbers

from services.intake.config import PhoneRules
from services.intake.rejections import ContactRejected, Rejected
from shared.events import CallRecord, ContactReceived, EmailMessage
from shared.text import terms


@dataclass(frozen=True)
class Identity:
    """One way of recognising a customer: `email:ana@example.com`, `phone:+302101234567`, ..."""

    kind: str
    value: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.value}"


def e164(number: str, region: str) -> str:
    """The caller's number in E.164, read in `region` when it has no country code."""
    try:
        parsed = phonenumbers.parse(number, region.upper())
    except phonenumbers.NumberParseException as exc:
        raise ContactRejected(
            Rejected("invalid_phone", f"caller number {number!r} is not a phone number: {exc}")
        ) from exc
    if not phonenumbers.is_possible_number(parsed):
        raise ContactRejected(
            Rejected(
                "invalid_phone", f"caller number {number!r} is not a possible number in {region}"
            )
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def identities_of(contact: ContactReceived, phone: PhoneRules) -> list[Identity]:
    """Every identity the contact proves; the first is the channel's own."""
    message = contact.message
    if isinstance(message, EmailMessage):
        return [Identity("email", message.from_address.lower())]
    if isinstance(message, CallRecord):
        region = phone.region_for(message.line, message.region)
        return [Identity("phone", e164(message.caller_number, region))]
    if not message.chat_user_id.strip():
        raise ContactRejected(Rejected("no_identity", "chat message without a chat user id"))
    found = [Identity("chat", message.chat_user_id)]
    if message.email:
        found.append(Identity("email", message.email.lower()))
    return found


def new_customer_id() -> str:
    """A new customer's id: random, so that knowing someone's address tells nothing of it.

    Two replicas creating one customer at once cannot both succeed: each identity belongs to
    one record (a unique index), so the loser's batch is decided again on the winner's record.
    """
    return str(uuid.uuid4())


def survivor(customers: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """When a contact proves several records are one person, the oldest record keeps the rest."""
    return min(customers, key=lambda c: (c.get("created_at") or datetime.max, c["_id"]))


def topic_terms(text: str) -> list[str]:
    """The words that say what a contact is about: normalised, without the shortest ones."""
    return sorted({t for t in terms(text) if len(t) >= 3 and not t.isdigit()})


def similarity(a: Iterable[str], b: Iterable[str]) -> float:
    """Jaccard similarity of two word sets."""
    left, right = set(a), set(b)
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)


def repeat_of(words: list[str], recent: Iterable[dict[str, Any]], threshold: float) -> str | None:
    """The most similar recent ticket of this customer at or above `threshold`, if any."""
    best: tuple[float, str] | None = None
    for ticket in recent:
        score = similarity(words, ticket.get("topic_terms", []))
        if score >= threshold and (best is None or score > best[0]):
            best = (score, ticket["_id"])
    return best[1] if best else None
