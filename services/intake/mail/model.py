"""What the email normaliser takes (limits) and gives back (a parsed mail and its attachments)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# Text beyond this many times max_text_chars is refused before quotes are split off: even if
# most of it were quoted, the new text would be over the limit.
SEPARATION_FACTOR = 10


@dataclass(frozen=True)
class MailLimits:
    """Bounds on one message; the support addresses let a loop through ourselves be seen."""

    max_message_bytes: int = 25 * 1024 * 1024
    # Larger attachments are recorded, their content refused.
    max_attachment_bytes: int = 10 * 1024 * 1024
    max_text_chars: int = 100_000
    # Our own addresses, lower case: mail from one of them is a loop.
    support_addresses: tuple[str, ...] = ()
    max_received_hops: int = 30
    # Languages customers write in (config/intake.yaml `languages`): a charset guess must read
    # as one of them (or as CJK when the message declares a CJK charset).
    languages: tuple[str, ...] = ("en", "fa", "ru", "el")


@dataclass(frozen=True)
class MailAttachment:
    """A part that is not body text: kept whole, or recorded with the reason its content was not."""

    filename: str
    content_type: str
    size: int
    content: bytes | None
    refused: str | None
    inline: bool


@dataclass(frozen=True)
class ParsedMail:
    """One email as the help desk reads it: who, about what, the new text apart from the quote."""

    from_address: str
    from_name: str | None
    to_addresses: tuple[str, ...]
    cc_addresses: tuple[str, ...]
    subject: str
    text: str
    quoted: str
    signature: str
    html_only: bool
    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    date: datetime | None
    attachments: tuple[MailAttachment, ...]
    defects: tuple[str, ...]
    charsets: tuple[str, ...]
