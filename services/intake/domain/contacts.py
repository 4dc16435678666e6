"""What a contact does to the tickets: the events of opening one, joining one, reopening one."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from services.intake.mail.replies import separate
from services.intake.rejections import ContactRejected, Rejected
from shared.events import (
    CallRecord,
    ChatMessage,
    ContactReceived,
    EmailMessage,
    Event,
    TicketContactAppended,
    TicketOpened,
    TicketStatusChanged,
)
from shared.ids import ticket_id_for_contact, ticket_reference
from shared.text import normalise_persian

#: Longest subject a contact may have: enough for any mail client's, bounded like the text.
MAX_SUBJECT_CHARS = 2_000
_CALL_SUBJECTS = {"missed": "Call back", "voicemail": "Voicemail from", "answered": "Call from"}


@dataclass(frozen=True)
class Facts:
    """What intake knows about a contact before deciding: who, in which language, which topic."""

    customer_id: str
    plan: str
    language: str | None
    follows_ticket_id: str | None = None
    repeat_of: str | None = None


@dataclass
class Decision:
    """The events one contact causes, and the thread keys and history it leaves."""

    contact_id: str
    ticket_id: str
    outcome: str
    events: list[Event] = field(default_factory=list)
    note: str | None = None


def _lines(*texts: str) -> Counter[str]:
    return Counter(line.strip() for text in texts for line in text.splitlines() if line.strip())


def email_parts(message: EmailMessage) -> tuple[str, str, str]:
    """What the customer wrote now, the earlier mail it quotes, and the signature.

    The mail gateway splits raw mail already (`mail.replies`); an adapter that posts a mail
    as JSON may send it whole, so it is split here, the signature only at the RFC 3676 `-- `
    line or a mobile "Sent from my…" line. A split that would leave no new text, or lose a
    line, is not made: the whole text stays the body.
    """
    if message.quoted_text or message.signature:
        return message.body, message.quoted_text, message.signature
    parts = separate(message.body, message.subject, sign_offs=False)
    whole = _lines(message.body)
    if not parts.new.strip() or whole - _lines(parts.new, parts.quoted, parts.signature):
        return message.body, "", ""
    return parts.new, parts.quoted, parts.signature


def contact_text(contact: ContactReceived) -> tuple[str, str]:
    """Subject and body of a contact, whatever its channel; an email's body is its new text."""
    message = contact.message
    if isinstance(message, EmailMessage):
        return message.subject, email_parts(message)[0]
    if isinstance(message, CallRecord):
        subject = f"{_CALL_SUBJECTS[message.outcome]} {message.caller_number}"
        return subject, message.summary
    assert isinstance(message, ChatMessage)
    lines = message.text.strip().splitlines()
    return (lines[0][:120] if lines else ""), message.text


def check(contact: ContactReceived, max_chars: int) -> None:
    """Refuse a contact with nothing in it or too much of it."""
    subject, body = contact_text(contact)
    message = contact.message
    if isinstance(message, EmailMessage):
        body = message.body  # all of it counts against the limit, quoted or not
    has_files = isinstance(message, EmailMessage) and bool(message.attachments)
    # A call record or the end of a chat says something even with no text.
    is_event = isinstance(message, CallRecord) or (
        isinstance(message, ChatMessage) and message.kind == "closed"
    )
    if not (subject.strip() or body.strip() or has_files or is_event):
        raise ContactRejected(Rejected("empty_contact", "contact has no subject and no text"))
    if len(body) > max_chars:
        raise ContactRejected(
            Rejected(
                "oversize", f"contact text is {len(body)} characters; the limit is {max_chars}"
            )
        )
    if len(subject) > MAX_SUBJECT_CHARS:
        raise ContactRejected(
            Rejected(
                "oversize",
                f"the subject is {len(subject)} characters; the limit is {MAX_SUBJECT_CHARS}",
            )
        )


def match_text(subject: str, body: str) -> str:
    """Subject and body in the form used for matching; the event keeps the original too."""
    return normalise_persian(f"{subject}\n{body}".strip())


def _wait(contact: ContactReceived) -> int | None:
    m = contact.message
    return m.queue_wait_seconds if isinstance(m, CallRecord) else None


def _folded(contact: ContactReceived) -> dict[str, str]:
    """An email's quoted text and signature, for the ticket event."""
    m = contact.message
    if not isinstance(m, EmailMessage):
        return {}
    _, quoted, signature = email_parts(m)
    return {"quoted_text": quoted, "signature": signature}


def _files(contact: ContactReceived) -> list[Any]:
    m = contact.message
    return list(m.attachments) if isinstance(m, EmailMessage) else []


def customer_name(contact: ContactReceived) -> str | None:
    """How the contact's sender is shown to agents: the name they gave, else how they wrote."""
    m = contact.message
    if isinstance(m, EmailMessage):
        return m.from_name or str(m.from_address)
    if isinstance(m, CallRecord):
        return m.caller_number
    return m.display_name or m.chat_user_id


def open_ticket(contact: ContactReceived, facts: Facts) -> Decision:
    """A new ticket; its id derives from the contact's id, so a redelivery opens it once."""
    subject, body = contact_text(contact)
    ticket_id = ticket_id_for_contact(contact.contact_id)
    message = contact.message
    opened = contact.caused(
        TicketOpened,
        "ticket.opened",
        correlation_id=contact.contact_id,
        ticket_id=ticket_id,
        reference=ticket_reference(ticket_id),
        contact_id=contact.contact_id,
        customer_id=facts.customer_id,
        customer_plan=facts.plan,
        customer_name=customer_name(contact),
        channel=message.channel,
        subject=subject,
        body=body,
        language=facts.language,
        match_text=match_text(subject, body),
        attachments=_files(contact),
        **_folded(contact),
        follows_ticket_id=facts.follows_ticket_id,
        repeat_of=facts.repeat_of,
        call_back=isinstance(message, CallRecord) and message.outcome == "missed",
        queue_wait_seconds=_wait(contact),
    )
    return Decision(contact.contact_id, ticket_id, "opened", [opened])


def join_ticket(
    contact: ContactReceived, ticket: dict[str, Any], facts: Facts, matched_by: str, reopen: bool
) -> Decision:
    """The contact joins `ticket`; a closed ticket within the reopen window opens again first."""
    ticket_id = ticket["_id"]
    chain = {"ticket_id": ticket_id, "correlation_id": ticket.get("contact_id")}
    events: list[Event] = []
    if reopen:
        events.append(
            contact.caused(
                TicketStatusChanged,
                "ticket.reopened",
                status="reopened",
                previous_status=ticket["status"],
                customer_id=facts.customer_id,
                reason=f"the customer wrote again ({matched_by}) within the reopen window",
                **chain,
            )
        )
    _, body = contact_text(contact)
    events.append(
        contact.caused(
            TicketContactAppended,
            "ticket.contact_appended",
            contact_id=contact.contact_id,
            customer_id=facts.customer_id,
            channel=contact.message.channel,
            body=body,
            language=facts.language,
            matched_by=matched_by,
            attachments=_files(contact),
            **_folded(contact),
            queue_wait_seconds=_wait(contact),
            **chain,
        )
    )
    return Decision(contact.contact_id, ticket_id, "reopened" if reopen else "appended", events)


def close_chat(contact: ContactReceived, ticket: dict[str, Any], customer_id: str) -> Decision:
    """A chat ended: resolved if an agent answered in it, else left open for follow-up."""
    message = contact.message
    assert isinstance(message, ChatMessage)
    ticket_id = ticket["_id"]
    if not message.agent_replied or ticket["status"] in ("resolved", "closed"):
        return Decision(
            contact.contact_id,
            ticket_id,
            "chat_closed_open",
            note="chat closed with no agent reply; the ticket stays open for follow-up",
        )
    resolved = contact.caused(
        TicketStatusChanged,
        "ticket.chat_closed",
        ticket_id=ticket_id,
        correlation_id=ticket.get("contact_id"),
        status="resolved",
        previous_status=ticket["status"],
        customer_id=customer_id,
        reason="the chat ended after an agent's reply",
    )
    return Decision(contact.contact_id, ticket_id, "chat_closed_resolved", [resolved])
