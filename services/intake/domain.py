"""Pure intake logic: who the customer is, what a contact opens, which agent actions are allowed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import phonenumbers

from shared.events import (
    CallRecord,
    ChatMessage,
    ContactReceived,
    EmailMessage,
    TicketOpened,
)
from shared.events.tickets import TicketStatus
from shared.ids import derived_id, ticket_id_for_contact, ticket_reference


class InvalidContact(ValueError):
    """The contact cannot become a ticket as it is; the message says why."""


class InvalidTransition(ValueError):
    """The agent's action does not fit the ticket's current status."""


@dataclass(frozen=True)
class Identity:
    """One way of recognising a customer: `email:ana@example.com`, `phone:+302101234567`, ..."""

    kind: str
    value: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.value}"


def e164(number: str, region: str) -> str:
    try:
        parsed = phonenumbers.parse(number, region.upper())
    except phonenumbers.NumberParseException as exc:
        raise InvalidContact(f"caller number {number!r} is not a phone number: {exc}") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidContact(f"caller number {number!r} is not a possible number in {region}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def identities_of(contact: ContactReceived, default_region: str) -> list[Identity]:
    """Every identity the contact proves; the first is the channel's own."""
    message = contact.message
    if isinstance(message, EmailMessage):
        return [Identity("email", message.from_address.lower())]
    if isinstance(message, CallRecord):
        region = message.region or default_region
        return [Identity("phone", e164(message.caller_number, region))]
    found = [Identity("chat", message.chat_user_id)]
    if message.email:
        found.append(Identity("email", message.email.lower()))
    return found


def customer_id_for(identity: Identity) -> str:
    """A new customer's id comes from their first identity, so two replicas agree on it."""
    return str(derived_id("customer", identity.key))


def contact_text(contact: ContactReceived) -> tuple[str, str]:
    """Subject and body of a contact, whatever its channel."""
    message = contact.message
    if isinstance(message, EmailMessage):
        return message.subject, message.body
    if isinstance(message, CallRecord):
        subject = {"missed": "Missed call", "voicemail": "Voicemail"}.get(message.outcome, "Call")
        return f"{subject} from {message.caller_number}", message.summary
    assert isinstance(message, ChatMessage)
    first_line = message.text.strip().splitlines()[0] if message.text.strip() else ""
    return first_line[:120], message.text


def open_ticket(
    contact: ContactReceived, customer_id: str, plan: str, max_body_chars: int
) -> TicketOpened:
    """The `ticket.opened` a new contact causes; its id derives from the contact's id."""
    subject, body = contact_text(contact)
    if not (subject.strip() or body.strip()):
        raise InvalidContact("contact has no subject and no text")
    if len(body) > max_body_chars:
        raise InvalidContact(
            f"contact text is {len(body)} characters; the limit is {max_body_chars}"
        )
    ticket_id = ticket_id_for_contact(contact.contact_id)
    opened: TicketOpened = contact.caused(
        TicketOpened,
        "ticket.opened",
        correlation_id=contact.correlation_id or contact.contact_id,
        ticket_id=ticket_id,
        reference=ticket_reference(ticket_id),
        contact_id=contact.contact_id,
        customer_id=customer_id,
        customer_plan=plan,
        channel=contact.message.channel,
        subject=subject,
        body=body,
        language=contact.language,
    )
    return opened


_CLOSED: set[TicketStatus] = {"resolved", "closed"}


def status_after(current: TicketStatus, action: str) -> TicketStatus | None:
    """The status an agent's action leads to (None: it leaves the status alone), or refuse it."""
    if action == "reply":
        if current in _CLOSED:
            raise InvalidTransition(f"ticket is {current}; reopen it before replying")
        return None
    if action == "resolve":
        if current in _CLOSED:
            raise InvalidTransition(f"ticket is already {current}")
        return "resolved"
    raise InvalidTransition(f"unknown action {action!r}")


def received_at(contact: ContactReceived) -> datetime:
    return contact.arrived_at
