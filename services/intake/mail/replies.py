"""The customer's new text apart from the earlier replies it quotes and from the signature; a
forwarded message is what the customer sends us, so it stays new text.

One pass over the lines finds the first quote header ("On … wrote:", an Outlook "From: / Sent:"
block, "-----Original Message-----"); everything from there on is quoted. A forward marker or a
header block that is a forward does not end the new text: its header stays in the new text and
the scan goes on below it. Every pattern sees one line of at most MAX_LINE characters (a longer
line is never a header), so the cost is linear in the text, whatever the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.intake.mail.languages import (
    DASH_DASH,
    DISCLAIMER,
    FORWARD_MARKER,
    FORWARD_SUBJECT,
    HEADER_LINE,
    ORIGINAL,
    RULE,
    SENT_FROM,
    SIGN_OFF,
    SUBJECT_NAMES,
    WROTE,
)

MAX_LINE = 400  # characters: no mail client writes a quote header line longer than this
_HEADER_LINES = 30  # lines a forwarded message's header may take before its body
# Persian and Arabic clients put direction marks around a line; they are not text.
_MARKS = str.maketrans(dict.fromkeys("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\ufeff"))
_QUOTE_PREFIX = re.compile(r"(?:[ \t]*>)++[ \t]*")
_QUOTED_LINE = re.compile(r"[ \t]*>")
_QUOTED_LINES = re.compile(r"^[ \t]*>.*(?:\n|\Z)", re.MULTILINE)
# A disclaimer paragraph talks about the message itself; "Warning: disk full" is the customer's.
_ABOUT_MAIL = re.compile(
    r"mail|message|nachricht|courriel|correo|messaggio|bericht|письм|сообщени|μήνυμα|"
    r"ηλεκτρονικ|پیام|ایمیل|نامه",
    re.IGNORECASE,
)
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class Separated:
    new: str
    quoted: str
    signature: str


@dataclass(frozen=True)
class _Boundary:
    start: int  # first line of the quote header or of the forward's header
    body: int  # first line below that header
    forward: bool


def _tidy(text: str) -> str:
    return _BLANK_LINES.sub("\n\n", text).strip()


def _bare(line: str) -> str:
    """The line as the patterns see it (no marks, quote markers or outer blanks); '' if too long."""
    if len(line) > MAX_LINE:
        return ""
    if not line.isascii():
        line = line.translate(_MARKS)
    if ">" in line:
        prefix = _QUOTE_PREFIX.match(line)
        if prefix:
            line = line[prefix.end() :]
    return line.strip()


def _header_end(lines: list[str], start: int) -> int:
    """The first line after the header lines that start at `start` (a blank line ends them)."""
    at = start
    while at < len(lines) and not _bare(lines[at]) and at < start + 2:
        at += 1  # a blank line between a forward marker and its "From:" line
    stop = min(len(lines), at + _HEADER_LINES)
    while at < stop and _bare(lines[at]):
        at += 1
    return at


def _forward_block(lines: list[str], start: int, end: int) -> bool:
    """Whether a header block's subject line says the message was forwarded."""
    for line in lines[start:end]:
        found = HEADER_LINE.match(_bare(line))
        if found and found["name"].casefold() in SUBJECT_NAMES:
            return FORWARD_SUBJECT.match(found["value"]) is not None
    return False


def _block_at(lines: list[str], at: int, bare: str) -> bool:
    """Two header lines in a row (the value of the first may sit on the next line)."""
    first = HEADER_LINE.match(bare)
    if first is None:
        return False
    following = lines[at + 1 : at + 3] if not first["value"] else lines[at + 1 : at + 2]
    return any(HEADER_LINE.match(_bare(line)) for line in following)


def _find(lines: list[str], start: int, forwarding: bool) -> _Boundary | None:
    """The first quote header or forward at or below line `start`."""
    following = _bare(lines[start]) if start < len(lines) else ""
    for at in range(start, len(lines)):
        bare = following
        following = _bare(lines[at + 1]) if at + 1 < len(lines) else ""
        if not bare:
            continue
        if FORWARD_MARKER.fullmatch(bare):
            return _Boundary(at, _header_end(lines, at + 1), True)
        if bare.endswith(":") and WROTE.fullmatch(bare):
            return _Boundary(at, at + 1, False)
        if following.endswith(":") and WROTE.fullmatch(f"{bare} {following}"):
            return _Boundary(at, at + 2, False)  # Gmail wraps a long header over two lines
        if ORIGINAL.fullmatch(bare) or RULE.fullmatch(bare):
            # A separator line: the header block, if any, starts on the next line with text.
            block = at + 1 if following or at + 2 >= len(lines) else at + 2
            if block < len(lines) and _block_at(lines, block, _bare(lines[block])):
                end = _header_end(lines, block)
                return _Boundary(at, end, forwarding or _forward_block(lines, block, end))
            if ORIGINAL.fullmatch(bare):
                return _Boundary(at, at + 1, forwarding)
            continue  # a rule alone is no header (it may open the signature)
        if _block_at(lines, at, bare):
            end = _header_end(lines, at)
            return _Boundary(at, end, forwarding or _forward_block(lines, at, end))
    return None


def _signature_at(lines: list[str], sign_offs: bool = True) -> int:
    """The line the signature starts on, or len(lines): `-- `, "Sent from my…", and with
    `sign_offs` a sign-off, a disclaimer or Outlook's rule too."""
    seen_text = False
    for at, line in enumerate(lines):
        bare = _bare(line)
        if not bare or _QUOTED_LINE.match(line):
            continue
        if DASH_DASH.fullmatch(bare) or SENT_FROM.fullmatch(bare):
            return at
        # A sign-off, disclaimer or rule opening the text is the customer's, not a signature;
        # Outlook draws a rule of 32 or more underscores above its signature block.
        if (
            sign_offs
            and seen_text
            and (
                SIGN_OFF.match(bare)
                or (DISCLAIMER.match(bare) and _ABOUT_MAIL.search(bare))
                or (len(bare) >= 32 and RULE.fullmatch(bare))
            )
        ):
            return at
        seen_text = True
    return len(lines)


def _own(lines: list[str], *, split_signature: bool, sign_offs: bool = True) -> Separated:
    """One stretch of the customer's text: '>' lines are quoted, the signature comes off."""
    cut = _signature_at(lines, sign_offs) if split_signature else len(lines)
    kept = [line for line in lines[:cut] if not _QUOTED_LINE.match(line)]
    quoted = [line for line in lines if _QUOTED_LINE.match(line)]
    signature = [line for line in lines[cut:] if not _QUOTED_LINE.match(line)]
    return Separated(_tidy("\n".join(kept)), _tidy("\n".join(quoted)), _tidy("\n".join(signature)))


def separate(
    text: str, subject: str = "", window: int | None = None, *, sign_offs: bool = True
) -> Separated:
    """New text, quoted earlier replies and signature of one body text.

    Without `sign_offs`, only the RFC 3676 `-- ` line and a mobile "Sent from my…" line start
    the signature: a closing such as "Thanks," may open a sentence the customer means.

    `subject` is the mail's: "Fwd:" or "FW:" there makes its first header block a forward.
    With a `window`, only that many characters are looked at line by line; the text beyond is
    quoted if a quote header came before it, and otherwise split in one pass into its '>'
    lines (quoted) and the rest (new). The caller's limit on new text is at most the window, so
    new text that would be over it is over it either way.
    """
    rest = ""
    if window is not None and len(text) > window:
        cut = text.rfind("\n", 0, window) + 1 or window
        text, rest = text[:cut], text[cut:]
    lines = text.split("\n")
    forwarding = FORWARD_SUBJECT.match(subject[:MAX_LINE]) is not None
    new: list[str] = []
    quoted: list[str] = []
    signature = ""
    start = 0
    while True:
        boundary = _find(lines, start, forwarding and start == 0)
        end = boundary.start if boundary is not None else len(lines)
        own = _own(lines[start:end], split_signature=start == 0, sign_offs=sign_offs)
        new.append(own.new)
        quoted.append(own.quoted)
        signature = signature or own.signature
        if boundary is None:
            new.append(_QUOTED_LINES.sub("", rest))
            quoted.append("".join(_QUOTED_LINES.findall(rest)))
            break
        if not boundary.forward:
            quoted.append("\n".join(lines[boundary.start :]) + rest)
            break
        new.append("\n".join(lines[boundary.start : boundary.body]))
        start = boundary.body
    return Separated(
        _tidy("\n\n".join(t for t in new if t)),
        _tidy("\n\n".join(t for t in quoted if t)),
        signature,
    )
