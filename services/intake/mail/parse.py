"""`normalise_email`: raw RFC 5322 bytes in, a ParsedMail or a typed Rejected out; never raises."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from itertools import islice
from typing import cast

from services.intake.mail.automatic import auto_reply, bounce, from_ourselves, mail_loop
from services.intake.mail.headers import (
    addresses,
    has_header,
    header_defects,
    header_text,
    mail_date,
    message_id,
    message_ids,
)
from services.intake.mail.model import MailLimits, ParsedMail
from services.intake.mail.replies import Separated, separate
from services.intake.mail.structure import Body, Walker
from services.intake.rejections import Rejected

_IDENTITY_HEADERS = ("from", "to", "subject")
_CHECKED_HEADERS = ("from", "to", "cc", "subject", "date", "message-id")
# Separation heuristics cost more than linear time on huge texts: such bodies are refused first.
_SEPARATION_FACTOR = 10
DEFAULT_LIMITS = MailLimits()


def normalise_email(raw: bytes, limits: MailLimits = DEFAULT_LIMITS) -> ParsedMail | Rejected:
    """Read one email as the help desk needs it, or say in words why it cannot become a contact."""
    try:
        return _normalise(raw, limits)
    except Exception as exc:  # the last guard: whatever the bytes, the caller gets a Rejected
        return Rejected("invalid_mime", f"the message could not be read ({type(exc).__name__})")


def _normalise(raw: bytes, limits: MailLimits) -> ParsedMail | Rejected:
    if len(raw) > limits.max_message_bytes:
        return Rejected(
            "oversize",
            f"the message is {len(raw)} bytes, over the limit of {limits.max_message_bytes}",
        )
    if not raw.strip():
        return Rejected("invalid_mime", "the message is empty: no headers and no body")
    # With the default policy the parser builds EmailMessage objects.
    msg = cast(EmailMessage, BytesParser(policy=policy.default).parsebytes(bytes(raw)))
    if not any(has_header(msg, name) for name in _IDENTITY_HEADERS):
        found = ", ".join(type(d).__name__ for d in msg.defects) or "none"
        return Rejected(
            "invalid_mime",
            f"no From, To or Subject header found: not an email message (defects: {found})",
        )
    rejected = mail_loop(msg, limits) or bounce(msg) or auto_reply(msg)
    if rejected is not None:
        return rejected
    sender = addresses(msg, "from")
    if not sender:
        shown = (header_text(msg, "from") or "")[:80]
        detail = f"the From header {shown!r} holds no valid address" if shown else "no From header"
        return Rejected("no_identity", detail)
    from_name, from_address = sender[0]
    rejected = from_ourselves(from_address, limits)
    if rejected is not None:
        return rejected

    walker = Walker(limits)
    walker.walk(msg)
    body = walker.body
    if body.unreadable and not body.pieces and not body.plain and not body.html:
        return Rejected(
            "undecodable_text",
            f"{body.unreadable} text part(s) could not be decoded in any charset: "
            + "; ".join(body.notes[:3]),
        )
    size = sum(len(p.text) for p in body.pieces)
    if size > limits.max_text_chars * _SEPARATION_FACTOR:
        return _too_long(size, limits)
    parts = _separate(body)
    if len(parts.new) > limits.max_text_chars:
        return _too_long(len(parts.new), limits)
    subject = header_text(msg, "subject") or ""
    if not parts.new and not body.attachments and not subject:
        return Rejected("empty_contact", "no text, no attachment and an empty subject")
    return ParsedMail(
        from_address=from_address,
        from_name=from_name,
        to_addresses=tuple(a for _, a in addresses(msg, "to")),
        cc_addresses=tuple(a for _, a in addresses(msg, "cc")),
        subject=subject,
        text=parts.new,
        quoted=parts.quoted,
        signature=parts.signature,
        html_only=body.html and not body.plain,
        message_id=message_id(header_text(msg, "message-id")),
        in_reply_to=message_id(header_text(msg, "in-reply-to")),
        references=message_ids(header_text(msg, "references")),
        date=mail_date(msg),
        attachments=tuple(body.attachments),
        defects=_defects(msg, body),
        charsets=tuple(body.charsets),
    )


def _too_long(chars: int, limits: MailLimits) -> Rejected:
    return Rejected(
        "oversize", f"the text is {chars} characters, over the limit of {limits.max_text_chars}"
    )


def _separate(body: Body) -> Separated:
    """Own text split once; each forwarded message after it, under its heading, split on its own."""
    own = separate("\n\n".join(p.text for p in body.pieces if p.heading is None))
    new, quoted = [own.new], [own.quoted]
    for piece in body.pieces:
        if piece.heading is not None:
            forwarded = separate(piece.text)
            new.append(f"{piece.heading}\n{forwarded.new}".strip())
            quoted.append(forwarded.quoted)
            new.append(forwarded.signature)
    return Separated(
        "\n\n".join(t for t in new if t), "\n\n".join(t for t in quoted if t), own.signature
    )


def _defects(msg: EmailMessage, body: Body) -> tuple[str, ...]:
    found: list[str] = []
    for part in islice(msg.walk(), 200):
        found += [type(d).__name__ for d in getattr(part, "defects", ())]
    found += header_defects(msg, _CHECKED_HEADERS)
    found += body.notes
    return tuple(dict.fromkeys(found))
