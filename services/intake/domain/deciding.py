"""Deciding one contact on a batch's view: recognise the customer, find the thread, open, join or
reopen; and the changes a decision (new, or stored and replayed) makes to tickets and threads."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from services.intake.config import IntakeRules
from services.intake.domain.contacts import (
    Decision,
    Facts,
    check,
    close_chat,
    contact_text,
    join_ticket,
    open_ticket,
)
from services.intake.domain.customers import Identity, repeat_of, topic_terms
from services.intake.domain.threading import (
    body_reference,
    header_keys,
    outcome,
    own_keys,
    subject_reference,
)
from services.intake.domain.view import BatchView, Document
from services.intake.rejections import ContactRejected, Rejected
from shared.events import CallRecord, ChatMessage, ContactReceived, EmailMessage


def decide(
    view: BatchView,
    contact: ContactReceived,
    identities: list[Identity],
    rules: IntakeRules,
    language: str | None,
) -> Decision:
    """The contact's decision on the view as it stands; its effects are applied to the view."""
    check(contact, rules.mail.max_text_chars)
    now = contact.arrived_at
    customer = view.recognise(identities, contact.contact_id, now)
    subject, body = contact_text(contact)
    facts = Facts(
        customer_id=customer["_id"],
        plan=customer.get("plan", "standard"),
        language=language or contact.language,
    )
    found = _thread(view, contact, identities, rules)
    message = contact.message
    if isinstance(message, ChatMessage) and message.kind == "closed":
        if found is None:
            raise ContactRejected(
                Rejected(
                    "invalid_contact",
                    f"chat {message.conversation_id} closed, but none of its messages arrived",
                )
            )
        return close_chat(contact, found[0], found[0]["customer_id"])
    if found is not None:
        ticket, matched_by = found
        window = rules.threading.reopen_window
        result = outcome(ticket["status"], ticket.get("closed_at"), now, window)
        if result != "open_linked":
            joined = replace(facts, customer_id=ticket["customer_id"])
            return join_ticket(contact, ticket, joined, matched_by, reopen=result == "reopen")
        facts = replace(facts, follows_ticket_id=ticket["_id"])
    words = topic_terms(f"{subject}\n{body}")
    recent = view.recent_of(facts.customer_id, now - rules.repeat_contact.window)
    similar = repeat_of(words, recent, rules.repeat_contact.similarity)
    return open_ticket(contact, replace(facts, repeat_of=similar))


def _thread(
    view: BatchView, contact: ContactReceived, identities: list[Identity], rules: IntakeRules
) -> tuple[Document, str] | None:
    """The ticket a contact belongs to, and how that was found."""
    by_key = view.ticket_by_key(header_keys(contact))
    if by_key is not None:
        ticket, key = by_key
        return ticket, "conversation" if key.startswith("chat:") else "message-id"
    for reference, how in (
        (subject_reference(contact), "reference"),
        (body_reference(contact), "marker"),
    ):
        referred = view.ticket_by_reference(reference) if reference else None
        if referred is not None:
            return referred, how
    if isinstance(contact.message, CallRecord):
        since = contact.arrived_at - rules.phone.repeat_call_window
        calling = view.open_call(identities[0].value, since)
        if calling is not None:
            return calling, "repeat call"
    return None


def decision_document(decision: Decision, event_id: str) -> Document:
    """What is kept of a decision before anything is published: a redelivery replays it.
    `event_id` is the contact event that made it."""
    return {
        "_id": decision.contact_id,
        "event_id": event_id,
        "ticket_id": decision.ticket_id,
        "outcome": decision.outcome,
        "note": decision.note,
        "events": [e.model_dump(mode="json") for e in decision.events],
    }


def apply_decision(
    view: BatchView, decision: Document, contact: ContactReceived, identities: list[Identity]
) -> None:
    """The changes a decision makes, recorded on the view; every one is safe to repeat."""
    ticket_id = decision["ticket_id"]
    fields, update = _ticket_fields(contact, identities)
    pushed: list[Document] = []
    change: Document = {}
    for raw in decision["events"]:
        kind = raw["event_type"]
        if kind == "ticket.opened":
            view.opened(_new_ticket(raw, {**fields, **update}), _topic(raw, fields))
        elif kind == "ticket.contact_appended":
            pushed.append(raw)
            change.setdefault("$max", {})["last_contact_at"] = _at(raw)
            if update:
                change.setdefault("$set", {}).update(update)
        elif kind == "ticket.status_changed":
            pushed.append(raw)
            closing = raw["status"] in ("resolved", "closed")
            change.setdefault("$set", {}).update(
                status=raw["status"], closed_at=_at(raw) if closing else None
            )
    if decision.get("note"):
        pushed.append(
            {
                "event_type": "note.system",
                "event_id": f"note:{decision['_id']}",
                "contact_id": decision["_id"],
                "body": decision["note"],
            }
        )
    if pushed:
        change["$push"] = {"history": {"$each": pushed}}
        view.changed(ticket_id, str(pushed[0]["event_id"]), change)
    view.remember(own_keys(contact), ticket_id)
    if isinstance(contact.message, CallRecord):
        view.changes.calls.append(_call(contact, identities, ticket_id))


def _at(raw: Document) -> datetime:
    value = raw["occurred_at"]
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _ticket_fields(
    contact: ContactReceived, identities: list[Identity]
) -> tuple[Document, Document]:
    """Fields a new ticket record keeps, and what each further contact updates."""
    subject, body = contact_text(contact)
    message = contact.message
    fields: Document = {"topic_terms": topic_terms(f"{subject}\n{body}")}
    update: Document = {}
    if isinstance(message, EmailMessage):
        fields["reply_to"] = message.from_address.lower()
        if message.message_id:
            update["last_message_id"] = message.message_id
    elif isinstance(message, CallRecord):
        fields["phone"] = identities[0].value
    else:
        fields["conversation_id"] = message.conversation_id
    return fields, update


def _new_ticket(opened: Document, extra: Document) -> Document:
    at = _at(opened)
    return {
        "_id": opened["ticket_id"],
        "reference": opened["reference"],
        "customer_id": opened["customer_id"],
        "contact_id": opened["contact_id"],
        "channel": opened["channel"],
        "subject": opened["subject"],
        "language": opened.get("language"),
        "status": "open",
        "opened_at": at,
        "last_contact_at": at,
        "closed_at": None,
        "team": None,
        "agent_id": None,
        "transfer_count": 0,
        "opened_event": opened,
        "history": [opened],
        **extra,
    }


def _topic(opened: Document, fields: Document) -> Document:
    """What a customer record keeps of a new ticket to spot a repeat of it."""
    return {
        "_id": opened["ticket_id"],
        "opened_at": _at(opened),
        "topic_terms": fields["topic_terms"],
    }


def _call(contact: ContactReceived, identities: list[Identity], ticket_id: str) -> Document:
    call = contact.message
    assert isinstance(call, CallRecord)
    return {
        "_id": contact.contact_id,
        "ticket_id": ticket_id,
        "number": identities[0].value,
        "line": call.line,
        "outcome": call.outcome,
        "queue_wait_seconds": call.queue_wait_seconds,
        "duration_seconds": call.duration_seconds,
        "agent_id": call.agent_id,
        "at": contact.arrived_at,
    }
