"""Text of a MIME part in whatever charset it was sent (declared, mislabelled, unlabelled
ISO-2022-JP or none), cleaned of control characters; every step linear in the text."""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.intake.mail.charsets import Charsets, charset_name, iso2022, known

__all__ = ["DecodedText", "charset_name", "clean", "decode_text", "readable"]

# Charsets whose every byte decodes: a wrong label here never fails, so the text is checked.
_PERMISSIVE = frozenset({"iso8859-1", "iso8859-15", "cp1252", "iso8859-2", "cp1250"})
# A word of three or more letters all from À..ÿ is what Cyrillic or Greek read as Latin-1 looks
# like ("Ïðèâåò"); real French or German mixes them with ASCII letters.
_MOJIBAKE_WORD = re.compile(r"\b[\u00c0-\u00ff]{3,}\b")
_WORD = re.compile(r"\b\w{3,}\b")
# Category Cc (C0 and C1 controls) but tab and newline, and lone surrogates (Cs).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_BAD = re.compile("[\ufffd\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# What `\s` matches (every such character is below U+3001), counted one by one in C, and the
# characters of _BAD that are not among them.
_SPACES = tuple(chr(c) for c in range(0x3001) if chr(c).isspace())
_BAD_VISIBLE = re.compile("[\ufffd\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ud800-\udfff]")
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class DecodedText:
    """A part's text, the charset it was read in, and what was odd about it."""

    text: str
    charset: str
    notes: tuple[str, ...] = ()


def readable(text: str) -> bool:
    """True when at least half of the visible characters are real characters, not U+FFFD."""
    visible = len(text) - sum(map(text.count, _SPACES))
    return len(_BAD_VISIBLE.findall(text)) * 2 <= visible


def _mislabelled(text: str) -> bool:
    odd = len(_MOJIBAKE_WORD.findall(text))
    return odd >= 2 and odd * 3 >= len(_WORD.findall(text))


def _strict(payload: bytes, codec: str) -> str | None:
    try:
        return payload.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_text(
    payload: bytes, declared: str | None, charsets: Charsets | None = None
) -> DecodedText:
    """Decode trusting the declared charset while it decodes and reads plausibly, else guess.

    `charsets` carries the message's languages and detector budget (a fresh one if not given).
    """
    guessing = charsets or Charsets()
    notes: list[str] = []
    codec = known(declared)
    if declared and codec is None:
        notes.append(f"unknown charset {declared[:40]!r}")
    escaped = iso2022(payload)
    if escaped is not None and not (codec or "").startswith("iso2022"):
        text = _strict(payload, escaped)
        if text is not None:  # unlabelled (or "us-ascii") Japanese: the escapes give it away
            notes.append(f"charset recognised as {charset_name(escaped)} by its escape sequences")
            return DecodedText(clean(text), charset_name(escaped), tuple(notes))
    if codec is None and not declared:
        codec = "ascii"
    if codec is not None:
        text = _strict(payload, codec)
        if text is None and not declared:
            notes.append("no charset declared and the text is not ASCII")
        elif text is None:
            notes.append(f"text does not decode as declared charset {charset_name(codec)}")
        elif codec not in _PERMISSIVE or not _mislabelled(text):
            return DecodedText(clean(text), charset_name(codec), tuple(notes))
        else:
            notes.append(f"text is not {charset_name(codec)} as declared")
    for candidate in guessing.guesses(payload, codec):
        if codec in _PERMISSIVE and candidate in _PERMISSIVE:
            continue  # a Latin guess for Latin mojibake is no better than the label
        text = _strict(payload, candidate)
        if text is not None:
            notes.append(f"charset detected as {charset_name(candidate)}")
            return DecodedText(clean(text), charset_name(candidate), tuple(notes))
    fallback = codec or "utf-8"
    notes.append(f"undecodable bytes replaced reading as {charset_name(fallback)}")
    return DecodedText(
        clean(payload.decode(fallback, "replace")), charset_name(fallback), tuple(notes)
    )


def clean(text: str) -> str:
    """Unix line ends, no control characters (tab and ZWNJ stay), no trailing blanks."""
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()
