"""What erasing a customer leaves of their tickets: ids, times, statuses and routing for the
reports, and nothing of who wrote or what was written."""

from __future__ import annotations

from typing import Any

Document = dict[str, Any]

#: What an erased ticket keeps: ids, times, statuses and routing, for reports; no words.
KEPT_FIELDS = (
    "_id",
    "reference",
    "customer_id",
    "channel",
    "language",
    "status",
    "opened_at",
    "last_contact_at",
    "closed_at",
    "team",
    "agent_id",
    "category",
    "priority",
    "tier",
    "transfer_count",
)
KEPT_EVENT_FIELDS = (
    "event_id",
    "event_type",
    "schema_version",
    "occurred_at",
    "ticket_id",
    "status",
    "previous_status",
    "agent_id",
    "channel",
    "matched_by",
    "priority",
    "previous_priority",
)


def erased_ticket(ticket: Document) -> Document:
    """The update that leaves a ticket with no trace of who wrote it or what they wrote."""
    history = [
        {k: v for k, v in entry.items() if k in KEPT_EVENT_FIELDS}
        for entry in ticket.get("history", [])
    ]
    update: Document = {"$set": {"history": history, "subject": "", "erased": True}}
    gone = {k: "" for k in ticket if k not in (*KEPT_FIELDS, "history", "subject")}
    if gone:
        update["$unset"] = gone
    return update
