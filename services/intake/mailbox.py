"""Raw mail into contacts: parse it, keep its attachments, publish it; automatic mail is
recorded and never opens a ticket. Used by the SMTP server and `POST /contacts/email`."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from services.intake.config import IntakeRules
from services.intake.mail import MailLimits, ParsedMail, normalise_email
from services.intake.rejections import Rejected
from services.intake.store import IntakeStore
from shared.events import AttachmentInfo, ContactReceived, EmailMessage
from shared.logging import get_logger
from shared.metrics import CONTACTS

log = get_logger(__name__)

Publish = Callable[[ContactReceived], Awaitable[None]]


def limits_of(rules: IntakeRules) -> MailLimits:
    megabyte = 1024 * 1024
    return MailLimits(
        max_message_bytes=int(rules.mail.max_message_mb * megabyte),
        max_attachment_bytes=int(rules.mail.max_attachment_mb * megabyte),
        max_text_chars=rules.mail.max_text_chars,
        support_addresses=tuple(rules.support_addresses),
        languages=tuple(rules.languages),
    )


def mail_contact_id(parsed: ParsedMail, raw: bytes) -> str:
    """The same mail delivered twice is one contact: its Message-ID, else its content's digest."""
    if parsed.message_id:
        return f"email:{parsed.message_id.strip('<>')}"[:200]
    return "email-sha256:" + hashlib.sha256(raw).hexdigest()


@dataclass
class Mailbox:
    store: IntakeStore
    rules: IntakeRules
    publish: Publish

    async def submit(self, raw: bytes, source: str) -> ContactReceived | Rejected:
        """Parse and publish one raw message; a rejection says why nothing was published."""
        parsed = normalise_email(raw, limits_of(self.rules))
        if isinstance(parsed, Rejected):
            if parsed.automatic:
                await self.store.suppress(
                    {
                        "kind": parsed.kind,
                        "detail": parsed.detail,
                        "source": source,
                        "size": len(raw),
                        "headers": raw[:4096].split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace"),
                        "at": datetime.now(UTC),
                    }
                )
                CONTACTS.labels("email", "suppressed").inc()
            log.info("mail.rejected", kind=parsed.kind, detail=parsed.detail, source=source)
            return parsed
        contact = ContactReceived(
            contact_id=mail_contact_id(parsed, raw),
            received_at=datetime.now(UTC),
            message=await self._message(parsed),
        )
        await self.publish(contact)
        log.info("mail.accepted", contact_id=contact.contact_id, source=source)
        return contact

    async def _message(self, parsed: ParsedMail) -> EmailMessage:
        files = []
        for attachment in parsed.attachments:
            stored = None
            if attachment.content is not None:
                stored = await self.store.store_attachment(
                    attachment.filename, attachment.content_type, attachment.content
                )
            files.append(
                AttachmentInfo(
                    filename=attachment.filename,
                    content_type=attachment.content_type,
                    size=attachment.size,
                    stored_id=stored,
                    refused=attachment.refused,
                )
            )
        return EmailMessage(
            channel="email",
            from_address=parsed.from_address,
            from_name=parsed.from_name,
            to_address=parsed.to_addresses[0] if parsed.to_addresses else None,
            to_addresses=[*parsed.to_addresses, *parsed.cc_addresses],
            subject=parsed.subject,
            body=parsed.text,
            message_id=parsed.message_id,
            in_reply_to=parsed.in_reply_to,
            references=list(parsed.references),
            quoted_text=parsed.quoted,
            signature=parsed.signature,
            html_only=parsed.html_only,
            attachments=files,
        )
