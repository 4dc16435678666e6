"""Agents' replies to email tickets go to the customer by mail, threaded and carrying the
ticket's reference, so the customer's answer finds its way back to the ticket."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Any

import aiosmtplib

from services.intake.domain import with_reference
from services.intake.settings import IntakeSettings
from shared.events import TicketAgentReplied
from shared.ids import derived_id

LOOP_HEADER = "X-Helpdesk-Loop"


def reply_message_id(reply: TicketAgentReplied, sender: str) -> str:
    domain = sender.rpartition("@")[2] or "helpdesk.invalid"
    return f"<{derived_id('reply-mail', reply.event_id)}@{domain}>"


def to_customer(ticket: dict[str, Any], subject: str, sender: str, message_id: str) -> EmailMessage:
    """A mail to the ticket's customer, threaded under their last mail, with the reference."""
    reference = ticket["reference"]
    if not subject.lower().startswith("re:"):
        subject = f"Re: {subject}"
    message = EmailMessage()
    message["From"] = formataddr(("Help desk", sender))
    message["To"] = ticket["reply_to"]
    message["Subject"] = with_reference(subject, reference)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id
    last = ticket.get("last_message_id")
    if last:
        message["In-Reply-To"] = last
        message["References"] = last
    message[LOOP_HEADER] = reference
    return message


def build_reply(reply: TicketAgentReplied, ticket: dict[str, Any], sender: str) -> EmailMessage:
    """The customer's copy of an agent's reply; its Message-ID is stable for the reply."""
    subject = ticket.get("subject") or "Your request"
    message = to_customer(ticket, subject, sender, reply_message_id(reply, sender))
    message["Auto-Submitted"] = "no"
    reference = ticket["reference"]
    footer = f"\n\n-- \nReference: [#{reference}]. Please keep it in the subject when you reply."
    message.set_content(reply.body + footer, charset="utf-8")
    return message


async def send_reply(message: EmailMessage, settings: IntakeSettings) -> None:
    await aiosmtplib.send(
        message, hostname=settings.smtp_host, port=settings.smtp_port, timeout=settings.smtp_timeout
    )
