"""Deterministic identifiers, so a redelivered input always yields the same outputs."""

from __future__ import annotations

import base64
import hashlib
import uuid

HELPDESK_NAMESPACE = uuid.UUID("6f1c9a52-3d0e-4d3b-9a57-2f3f4a1c8e10")


def derived_id(*parts: object) -> uuid.UUID:
    """UUIDv5 of the parts: the cause and the kind of effect it had."""
    return uuid.uuid5(HELPDESK_NAMESPACE, "\x1f".join(str(p) for p in parts))


def ticket_id_for_contact(contact_id: str) -> str:
    """A new ticket's id comes from the contact that opened it, so one contact opens one ticket."""
    return str(derived_id("ticket", contact_id))


def ticket_reference(ticket_id: str) -> str:
    """A short, typeable reference such as `HD-7K3Q9X`, stable for a ticket id."""
    digest = hashlib.sha256(ticket_id.encode()).digest()
    return "HD-" + base64.b32encode(digest).decode()[:6]
