"""The MIME tree walked once: which parts are body text (plain preferred, HTML converted,
forwarded messages summarised) and which are attachments."""

from __future__ import annotations

import binascii
import mimetypes
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message

from services.intake.mail.addresses import addresses
from services.intake.mail.bounds import MAX_DEPTH, MAX_PARTS
from services.intake.mail.charsets import Charsets
from services.intake.mail.decode import decode_text, readable
from services.intake.mail.headers import decode_value, header_text
from services.intake.mail.markup import html_to_text
from services.intake.mail.model import SEPARATION_FACTOR, MailAttachment, MailLimits

# Bytes of one text part beyond which its text is surely over the separation limit: a character
# takes at most four bytes in any charset mail uses.
_BYTES_PER_CHAR = 4
_PATH = re.compile(r"^.*[/\\]")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Piece:
    """Body text of one part; a forwarded message's text carries its summary heading."""

    text: str
    heading: str | None = None


@dataclass
class Body:
    pieces: list[Piece] = field(default_factory=list)
    attachments: list[MailAttachment] = field(default_factory=list)
    charsets: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    plain: bool = False
    html: bool = False
    unreadable: int = 0
    parts: int = 0
    oversize: int = 0  # bytes of the largest text part too large to decode at all


class Walker:
    """Collects a message's body pieces and attachments into a Body."""

    def __init__(
        self,
        limits: MailLimits,
        charsets: Charsets | None = None,
        body: Body | None = None,
        lifted: Mapping[str, bytes] | None = None,
    ) -> None:
        self.limits = limits
        self.charsets = charsets or Charsets(limits.languages)
        self.body = body or Body()
        self.lifted = lifted or {}

    def walk(self, part: Message, depth: int = 0, as_body: bool = True) -> None:
        self.body.parts += 1
        # `bounds` cut the message to these limits already; this guards messages built otherwise.
        if depth > MAX_DEPTH or self.body.parts > MAX_PARTS + 1:
            if "too deeply nested or too many parts" not in self.body.notes:
                self.body.notes.append("too deeply nested or too many parts")
            return
        ctype = part.get_content_type()
        if part.is_multipart():
            payload = part.get_payload()
            children = [p for p in payload if isinstance(p, Message)]
            attached = part.get_content_disposition() == "attachment"
            if ctype == "message/rfc822" and children and as_body and not attached:
                self._forward(children[0], depth)
            elif ctype.startswith("message/"):
                self._attach(part, False)
            else:
                self._multipart(part, children, depth, as_body)
        elif part.get_content_disposition() == "attachment" or ctype not in (
            "text/plain",
            "text/html",
        ):
            if ctype.startswith(("multipart/", "message/")):
                if as_body:
                    self._text(part, html=False)  # a broken container: its payload is text
            elif as_body or not ctype.startswith("text/"):
                self._attach(part, False)
        elif as_body:
            self._text(part, html=ctype == "text/html")

    def _multipart(self, part: Message, children: list[Message], depth: int, as_body: bool) -> None:
        subtype = part.get_content_subtype()
        if subtype == "alternative" and as_body:
            chosen = self._choose(children)
            for child in children:
                self.walk(child, depth + 1, as_body=child is chosen)
        elif subtype == "related" and children:
            root = _related_root(part, children)
            for child in children:
                if child is root or child.is_multipart():
                    self.walk(child, depth + 1, as_body and child is root)
                else:
                    self._attach(child, True)
        else:
            for child in children:
                self.walk(child, depth + 1, as_body)

    def _choose(self, children: list[Message]) -> Message | None:
        """text/plain with some text in it, else a multipart (HTML with its images), else HTML."""
        for wanted in ("text/plain", "multipart/", "text/html"):
            for child in children:
                ctype = child.get_content_type()
                if child.get_content_disposition() == "attachment" or not ctype.startswith(wanted):
                    continue
                if wanted == "text/plain" and not _payload(child, self.lifted).strip():
                    continue
                return child
        return children[-1] if children else None

    def _text(self, part: Message, *, html: bool) -> None:
        payload = _payload(part, self.lifted)
        if len(payload) > self.limits.max_text_chars * SEPARATION_FACTOR * _BYTES_PER_CHAR:
            self.body.oversize = max(self.body.oversize, len(payload))
            return
        decoded = decode_text(payload, part.get_content_charset(), self.charsets)
        self.body.notes.extend(decoded.notes)
        text = html_to_text(decoded.text) if html else decoded.text
        if not readable(text):
            self.body.unreadable += 1
            return
        if decoded.charset not in self.body.charsets:
            self.body.charsets.append(decoded.charset)
        if html:
            self.body.html = True
        else:
            self.body.plain = True
        if text:
            self.body.pieces.append(Piece(text))

    def _forward(self, inner: Message, depth: int) -> None:
        sub = Walker(self.limits, self.charsets, Body(parts=self.body.parts), self.lifted)
        sub.walk(inner, depth + 1)
        self.body.parts = sub.body.parts
        sender = addresses(inner, "from", self.charsets)
        who = sender[0][1] if sender else "unknown sender"
        subject = header_text(inner, "subject", self.charsets) or "(no subject)"
        texts = [f"{p.heading}\n{p.text}" if p.heading else p.text for p in sub.body.pieces]
        heading = f"---- Forwarded message from {who}: {subject} ----"
        self.body.pieces.append(Piece("\n\n".join(texts), heading))
        self.body.attachments.extend(sub.body.attachments)
        self.body.notes.extend(sub.body.notes)
        self.body.charsets.extend(c for c in sub.body.charsets if c not in self.body.charsets)
        self.body.plain |= sub.body.plain
        self.body.html |= sub.body.html
        self.body.unreadable += sub.body.unreadable
        self.body.oversize = max(self.body.oversize, sub.body.oversize)

    def _attach(self, part: Message, inline_default: bool) -> None:
        ctype = part.get_content_type()
        inner = _attached_message(part)
        content = _payload(part, self.lifted) if inner is None else _message_bytes(inner)
        limit = self.limits.max_attachment_bytes
        disposition = part.get_content_disposition()
        inline = disposition == "inline" or (
            disposition is None and (inline_default or part.get("content-id") is not None)
        )
        number = len(self.body.attachments) + 1
        self.body.attachments.append(
            MailAttachment(
                filename=_filename(part, number, ctype, self._title(inner), self.charsets),
                content_type=ctype,
                size=len(content),
                content=content if len(content) <= limit else None,
                refused=None if len(content) <= limit else f"larger than {limit} bytes",
                inline=inline,
            )
        )

    def _title(self, inner: Message | None) -> str:
        """An attached message's subject, which names its file when the part gives no name."""
        if inner is None:
            return ""
        subject = header_text(inner, "subject", self.charsets) or ""
        return subject.replace("/", "-").replace("\\", "-")[:120]


def _attached_message(part: Message) -> Message | None:
    """The message inside a message/rfc822 part: the file is that message, not its wrapper."""
    if part.get_content_type() != "message/rfc822" or not part.is_multipart():
        return None
    inner = part.get_payload(0)
    return inner if isinstance(inner, Message) else None


def _message_bytes(message: Message) -> bytes:
    """A message as an .eml file: headers and body as sent (no ">From" quoting)."""
    try:
        return message.as_bytes(policy=message.policy.clone(mangle_from_=False))
    except Exception:  # a message that will not serialise again has no usable content
        return b""


def _payload(part: Message, lifted: Mapping[str, bytes]) -> bytes:
    """Decoded bytes of a part (base64 and quoted-printable undone); a container as it was sent."""
    if not part.is_multipart() and lifted:
        sent = lifted.get(str(part.get_payload()).strip())
        if sent is not None:
            return _decoded(sent, str(part.get("content-transfer-encoding", "")))
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload
    try:
        return part.as_bytes()
    except Exception:  # a part that will not serialise again has no usable content
        return b""


def _decoded(sent: bytes, encoding: str) -> bytes:
    """A lifted body decoded as the standard parser would: base64 leniently (bad characters
    skipped, missing padding added), quoted-printable, anything else as sent."""
    encoding = encoding.strip().lower()
    if encoding == "base64":
        for padding in (b"", b"=", b"=="):
            try:
                return binascii.a2b_base64(sent + padding)
            except binascii.Error:
                continue
        return sent
    if encoding == "quoted-printable":
        return binascii.a2b_qp(sent)
    return sent


def _related_root(part: Message, children: list[Message]) -> Message:
    start = part.get_param("start")
    if isinstance(start, str):
        for child in children:
            if (child.get("content-id") or "").strip() == start.strip():
                return child
    return children[0]


def _filename(part: Message, number: int, ctype: str, title: str, charsets: Charsets) -> str:
    try:
        # RFC 2231 is undone by the parser; RFC 2047 words, which clients put there against the
        # rules, and raw 8-bit bytes are decoded like any header.
        name = decode_value(str(part.get_filename() or ""), charsets)
    except Exception:  # a broken RFC 2231 parameter: the part still counts, under a made-up name
        name = ""
    if not name and title:
        name = f"{title}{mimetypes.guess_extension(ctype) or '.eml'}"
    name = _UNSAFE.sub("", _PATH.sub("", str(name))).strip()
    name = name.encode("utf-8", "replace").decode("utf-8")
    if name:
        return name[:255]
    return f"attachment-{number}{mimetypes.guess_extension(ctype) or '.bin'}"
