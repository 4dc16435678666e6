"""Which ticket a contact belongs to: mail headers, then the reference in the subject, then a
marker in the body; and what a reply to a closed ticket does."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Literal

from shared.events import CallRecord, ChatMessage, ContactReceived, EmailMessage

# `[#HD-7K3Q9X]`: the reference every outgoing mail carries in its subject and body.
REFERENCE = re.compile(r"\[#\s*(HD-[A-Z2-7]{6})\s*\]", re.IGNORECASE)
_CLOSED = frozenset({"resolved", "closed"})

Outcome = Literal["append", "reopen", "open_linked"]


def message_key(message_id: str) -> str:
    return f"msgid:{message_id.strip().strip('<>').lower()}"


def conversation_key(conversation_id: str) -> str:
    return f"chat:{conversation_id}"


def header_keys(contact: ContactReceived) -> list[str]:
    """Thread keys from the contact's own headers, the most telling first."""
    message = contact.message
    if isinstance(message, EmailMessage):
        ids = [message.in_reply_to] if message.in_reply_to else []
        ids += list(reversed(message.references))
        return list(dict.fromkeys(message_key(i) for i in ids if i and i.strip("<> ")))
    if isinstance(message, ChatMessage):
        return [conversation_key(message.conversation_id)]
    return []


def own_keys(contact: ContactReceived) -> list[str]:
    """Keys later contacts can thread on: this mail's Message-ID, this chat's conversation."""
    message = contact.message
    if isinstance(message, EmailMessage) and message.message_id:
        return [message_key(message.message_id)]
    if isinstance(message, ChatMessage):
        return [conversation_key(message.conversation_id)]
    return []


def subject_reference(contact: ContactReceived) -> str | None:
    message = contact.message
    if isinstance(message, EmailMessage):
        found = REFERENCE.search(message.subject)
        return found.group(1).upper() if found else None
    return None


def body_reference(contact: ContactReceived) -> str | None:
    message = contact.message
    if isinstance(message, EmailMessage):
        found = REFERENCE.search(message.body) or REFERENCE.search(message.quoted_text)
        return found.group(1).upper() if found else None
    return None


def phone_joins(contact: ContactReceived) -> bool:
    return isinstance(contact.message, CallRecord)


def outcome(status: str, closed_at: datetime | None, now: datetime, window: timedelta) -> Outcome:
    """A contact for an open ticket joins it; for a closed one it reopens it within the window,
    and after the window opens a new ticket linked to the old one."""
    if status not in _CLOSED:
        return "append"
    if closed_at is not None and now - closed_at <= window:
        return "reopen"
    return "open_linked"


def with_reference(subject: str, reference: str) -> str:
    """The subject of an outgoing mail, carrying the ticket's reference once."""
    tag = f"[#{reference}]"
    return subject if tag in subject else f"{subject} {tag}".strip()
