"""Text of a MIME part in whatever charset it was sent (declared, mislabelled or none) and HTML
turned into readable plain text."""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass

from charset_normalizer import from_bytes
from inscriptis import get_text
from inscriptis.model.config import ParserConfig

# Charsets whose every byte decodes: a wrong label here never fails, so the text is checked.
_PERMISSIVE = frozenset({"iso8859-1", "iso8859-15", "cp1252", "iso8859-2", "cp1250"})
# A word of three or more letters all from À..ÿ is what Cyrillic or Greek read as Latin-1 looks
# like ("Ïðèâåò"); real French or German mixes them with ASCII letters.
_MOJIBAKE_WORD = re.compile(r"\b[\u00c0-\u00ff]{3,}\b")
_WORD = re.compile(r"\b\w{3,}\b")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_BLANK_LINES = re.compile(r"\n{3,}")
_HTML_CONFIG = ParserConfig(display_links=True)
_DETECT_LIMIT = 64 * 1024  # bytes the detector reads: enough to tell, bounded in time


@dataclass(frozen=True)
class DecodedText:
    """A part's text, the charset it was read in, and what was odd about it."""

    text: str
    charset: str
    notes: tuple[str, ...] = ()


def charset_name(codec: str) -> str:
    """The name mail clients write for a Python codec (cp1256 -> windows-1256)."""
    name = codecs.lookup(codec).name
    if re.fullmatch(r"cp125\d", name):
        return "windows-" + name[2:]
    if name.startswith("iso8859-"):
        return "iso-8859-" + name[8:]
    return {"ascii": "us-ascii", "mac-cyrillic": "x-mac-cyrillic"}.get(name, name)


def _known(label: str | None) -> str | None:
    if not label:
        return None
    try:
        return codecs.lookup(label.strip().strip('"').lower()).name
    except (LookupError, ValueError, TypeError):
        return None


def _detect(payload: bytes) -> str | None:
    best = from_bytes(payload[:_DETECT_LIMIT]).best()
    return None if best is None else _known(best.encoding)


def readable(text: str) -> bool:
    """True when at least half of the visible characters are real characters, not U+FFFD."""
    visible = [ch for ch in text if not ch.isspace()]
    if not visible:
        return True
    bad = sum(1 for ch in visible if ch == "\ufffd" or unicodedata.category(ch) in ("Cc", "Cs"))
    return bad * 2 <= len(visible)


def _mislabelled(text: str) -> bool:
    odd = len(_MOJIBAKE_WORD.findall(text))
    return odd >= 2 and odd * 3 >= len(_WORD.findall(text))


def decode_text(payload: bytes, declared: str | None) -> DecodedText:
    """Decode trusting the declared charset while it decodes and reads plausibly, else detect."""
    notes: list[str] = []
    codec = _known(declared)
    if declared and codec is None:
        notes.append(f"unknown charset {declared[:40]!r}")
    if codec is None and not declared:
        codec = "ascii"
    if codec is not None:
        try:
            text = payload.decode(codec)
        except UnicodeDecodeError:
            notes.append(f"text does not decode as declared charset {charset_name(codec)}")
        else:
            if codec not in _PERMISSIVE or not _mislabelled(text):
                return DecodedText(clean(text), charset_name(codec), tuple(notes))
            notes.append(f"text is not {charset_name(codec)} as declared")
    for candidate in ("utf-8", _detect(payload)):
        if candidate is None or candidate == codec:
            continue
        try:
            text = payload.decode(candidate)
        except UnicodeDecodeError:
            continue
        if codec in _PERMISSIVE and candidate in _PERMISSIVE:
            continue  # a Latin guess for Latin mojibake is no better than the label
        notes.append(f"charset detected as {charset_name(candidate)}")
        return DecodedText(clean(text), charset_name(candidate), tuple(notes))
    fallback = codec or "utf-8"
    notes.append(f"undecodable bytes replaced reading as {charset_name(fallback)}")
    return DecodedText(
        clean(payload.decode(fallback, "replace")), charset_name(fallback), tuple(notes)
    )


def clean(text: str) -> str:
    """Unix line ends, no control characters (tab and ZWNJ stay), no trailing blanks."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs")
    )
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def html_to_text(html: str) -> str:
    """Readable text of an HTML body: links as [text](url), lists, tables; no script or style."""
    html = _XML_DECLARATION.sub("", html)
    try:
        text = get_text(html, _HTML_CONFIG)
    except Exception:  # lxml refuses some broken documents; tags stripped are still readable
        text = _TAG.sub(" ", html)
    return clean(text)
