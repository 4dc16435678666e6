"""The customer's new text apart from the earlier replies it quotes and from the signature."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailparser_reply.parser import EmailMessage

from services.intake.mail.languages import REPLY_LANGUAGES

# A forward pasted into the body ("---------- Forwarded message ---------", Apple's "Begin
# forwarded message:"): what follows is what the customer sends us, not an old reply.
_INLINE_FORWARD = re.compile(
    r"^[ >]*(?:-{3,} ?(?:Forwarded message|Пересылаемое сообщение|"
    r"Προωθημένο μήνυμα|پیام هدایت شده|پیام بازارسال ?شده) ?-{0,}|Begin forwarded message:)\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_QUOTED_LINE = re.compile(r"^\s*>")
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class Separated:
    new: str
    quoted: str
    signature: str


def _tidy(text: str) -> str:
    return _BLANK_LINES.sub("\n\n", text).strip()


def _split_reply(text: str) -> Separated:
    # A fresh list each time: the parser appends 'en' to the list it is given.
    message = EmailMessage(text=text, languages=list(REPLY_LANGUAGES), keep_hyphen_lists=True)
    replies = message.read().replies
    if not replies:
        return Separated("", "", "")
    first = replies[0]
    if first.headers:
        # The text opens with a quote header: nothing new above it.
        return Separated("", "\n\n".join(r.content for r in replies), "")
    signature = "\n".join([first.signatures or "", *(first.disclaimers or [])]).strip()
    quoted = "\n\n".join(r.content for r in replies[1:])
    return Separated(first.body, quoted, signature)


def _pull_quoted_lines(part: Separated) -> Separated:
    """Move classic '> ' lines left in the new text over to the quoted part."""
    kept: list[str] = []
    moved: list[str] = []
    for line in part.new.split("\n"):
        (moved if _QUOTED_LINE.match(line) else kept).append(line)
    if not moved:
        return part
    quoted = "\n".join(moved) + ("\n\n" + part.quoted if part.quoted else "")
    return Separated(_tidy("\n".join(kept)), quoted.strip(), part.signature)


def separate(text: str) -> Separated:
    """New text, quoted earlier replies and signature of one body text."""
    forward = _INLINE_FORWARD.search(text)
    if forward is not None:
        own = _pull_quoted_lines(_split_reply(text[: forward.start()]))
        forwarded = _tidy(text[forward.start() :])
        new = f"{own.new}\n\n{forwarded}" if own.new else forwarded
        return Separated(_tidy(new), own.quoted, own.signature)
    part = _pull_quoted_lines(_split_reply(text))
    return Separated(_tidy(part.new), _tidy(part.quoted), _tidy(part.signature))
