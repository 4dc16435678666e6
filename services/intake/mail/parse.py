"""`normalise_email`: raw RFC 5322 bytes in, a ParsedMail or a typed Rejected out; never raises.

Every step is linear in the message or bounded: the header block is repaired and the MIME
structure cut to its limits before the standard parser runs (`envelope`, `bounds`), headers are
decoded by our own bounded code, and the quote splitter looks at bounded lines (`replies`)."""

from __future__ import annotations

from email import policy
from email.message import Message
from email.parser import BytesParser
from itertools import islice

from services.intake.mail import bounds, envelope
from services.intake.mail.addresses import SENDER_HEADERS, addresses, sender
from services.intake.mail.automatic import auto_reply, bounce, from_ourselves, mail_loop
from services.intake.mail.charsets import Charsets
from services.intake.mail.headers import (
    declared_charset,
    has_header,
    header_text,
    mail_date,
    message_id,
    message_ids,
)
from services.intake.mail.model import SEPARATION_FACTOR, MailLimits, ParsedMail
from services.intake.mail.replies import Separated, separate
from services.intake.mail.structure import Body, Walker
from services.intake.rejections import Rejected

_IDENTITY_HEADERS = ("from", "to", "subject")
DEFAULT_LIMITS = MailLimits()
# Characters the quote splitter reads line by line beyond the limit on new text: the quote
# header and a few lines of '>' above it (`replies.separate`).
_WINDOW_SLACK = 4_000


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
    repaired = envelope.repair(bytes(raw))
    if isinstance(repaired, str):
        return Rejected("oversize", repaired)
    data, notes = repaired
    bounded = bounds.bound(data)
    notes += [bounded.note] if bounded.note else []
    # compat32 keeps headers as strings: the default policy parses a header each time it is read
    # (tens of times per part, a thousand times slower), and we decode headers ourselves.
    msg = BytesParser(policy=policy.compat32).parsebytes(bounded.raw)
    if not any(has_header(msg, name) for name in _IDENTITY_HEADERS):
        found = ", ".join(type(d).__name__ for d in msg.defects) or "none"
        return Rejected(
            "invalid_mime",
            f"no From, To or Subject header found: not an email message (defects: {found})",
        )
    charsets = Charsets(limits.languages, header_charset=declared_charset(msg))
    rejected = mail_loop(msg, limits) or bounce(msg, charsets) or auto_reply(msg, charsets)
    if rejected is not None:
        return rejected
    who = sender(msg, charsets)
    if who is None:
        return _no_identity(msg, charsets)
    from_name, from_address, source = who
    if source != "from":
        notes.append(f"no address in From: the sender is taken from {source.title()}")
    rejected = from_ourselves(from_address, limits)
    if rejected is not None:
        return rejected

    walker = Walker(limits, charsets, lifted=bounded.lifted)
    walker.walk(msg)
    body = walker.body
    if body.oversize:
        return _too_long(body.oversize, limits, "a text part of {} bytes")
    if body.unreadable and not body.pieces and not body.plain and not body.html:
        return Rejected(
            "undecodable_text",
            f"{body.unreadable} text part(s) could not be decoded in any charset: "
            + "; ".join(body.notes[:3]),
        )
    size = sum(len(p.text) for p in body.pieces)
    if size > limits.max_text_chars * SEPARATION_FACTOR:
        return _too_long(size, limits)
    subject = header_text(msg, "subject", charsets) or ""
    parts = _separate(body, subject, limits.max_text_chars + _WINDOW_SLACK)
    if len(parts.new) > limits.max_text_chars:
        return _too_long(len(parts.new), limits)
    if not parts.new and not body.attachments and not subject:
        return Rejected("empty_contact", "no text, no attachment and an empty subject")
    return ParsedMail(
        from_address=from_address,
        from_name=from_name,
        to_addresses=tuple(a for _, a in addresses(msg, "to", charsets)),
        cc_addresses=tuple(a for _, a in addresses(msg, "cc", charsets)),
        subject=subject,
        text=parts.new,
        quoted=parts.quoted,
        signature=parts.signature,
        html_only=body.html and not body.plain,
        message_id=message_id(header_text(msg, "message-id", charsets)),
        in_reply_to=message_id(header_text(msg, "in-reply-to", charsets)),
        references=message_ids(header_text(msg, "references", charsets)),
        date=mail_date(msg, charsets),
        attachments=tuple(body.attachments),
        defects=_defects(msg, body, notes),
        charsets=tuple(body.charsets),
    )


def _no_identity(msg: Message, charsets: Charsets) -> Rejected:
    shown = [
        f"{name.title()} {value[:80]!r}"
        for name in SENDER_HEADERS
        if (value := header_text(msg, name, charsets))
    ]
    if not shown:
        return Rejected("no_identity", "no From, Reply-To or Sender header")
    return Rejected("no_identity", f"no address in {', '.join(shown)}")


def _too_long(chars: int, limits: MailLimits, what: str = "the text is {} characters") -> Rejected:
    return Rejected(
        "oversize", f"{what.format(chars)}, over the limit of {limits.max_text_chars} characters"
    )


def _separate(body: Body, subject: str, window: int) -> Separated:
    """Own text split once; each forwarded message after it, under its heading, split on its own."""
    own_text = "\n\n".join(p.text for p in body.pieces if p.heading is None)
    own = separate(own_text, subject, window)
    new, quoted = [own.new], [own.quoted]
    for piece in body.pieces:
        if piece.heading is not None:
            forwarded = separate(piece.text, window=window)
            new.append(f"{piece.heading}\n{forwarded.new}".strip())
            quoted.append(forwarded.quoted)
            new.append(forwarded.signature)
    return Separated(
        "\n\n".join(t for t in new if t), "\n\n".join(t for t in quoted if t), own.signature
    )


def _defects(msg: Message, body: Body, notes: list[str]) -> tuple[str, ...]:
    found: list[str] = []
    for part in islice(msg.walk(), 200):
        found += [type(d).__name__ for d in getattr(part, "defects", ())]
    found += notes
    found += body.notes
    return tuple(dict.fromkeys(found))
