"""Header values read without ever raising, in time linear in the value: RFC 2047 words and raw
8-bit bytes decoded (by detection when the declared charset does not fit), message ids, dates.
A value longer than MAX_HEADER_CHARS is cut there: no real header is that long."""

from __future__ import annotations

import binascii
import re
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from weakref import WeakKeyDictionary

from services.intake.mail.charsets import Charsets, iso2022, known
from services.intake.mail.decode import clean
from services.intake.mail.plausible import allowed_scripts, plausible

MAX_HEADER_CHARS = 16_384
_MSG_ID = re.compile(r"<([^<>\s]{1,250})>")
_BARE_ID = re.compile(r"[^<>\s@]{1,200}@[^<>\s@]{1,200}")
_SPACES = re.compile(r"\s+")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_SURROGATE = re.compile("[\udc80-\udcff]")
# RFC 2047 encoded word; each part bounded, so a malformed one costs no more than its length.
_ENCODED = re.compile(r"=\?([^?\s]{1,64})\?([bBqQ])\?([^?\s]{0,4096})\?=")
_BETWEEN = re.compile(r"[ \t]*")
_PARTS_SCANNED = 20  # parts looked at for the charset a message declares
_INDEXES: WeakKeyDictionary[Message, dict[str, list[str]]] = WeakKeyDictionary()


def _index(msg: Message) -> dict[str, list[str]]:
    """Every raw header by lower-case name, built once per message: the automatic-mail checks
    ask for a dozen names, and scanning a long header block for each would multiply its cost."""
    index = _INDEXES.get(msg)
    if index is None:
        index = {}
        for key, value in msg.raw_items():
            index.setdefault(key.lower(), []).append(
                value if isinstance(value, str) else str(value)
            )
        _INDEXES[msg] = index
    return index


def raw_header(msg: Message, name: str) -> str | None:
    """The first `name` header as it arrived (8-bit bytes as surrogate escapes), unparsed."""
    values = _index(msg).get(name.lower())
    return values[0] if values else None


def declared_charset(msg: Message) -> str | None:
    """The charset the message declares for its text: its own, else its first text part's."""
    for seen, part in enumerate(msg.walk()):
        if seen >= _PARTS_SCANNED:
            break
        try:
            charset = part.get_content_charset()
        except Exception:  # a broken Content-Type declares nothing usable
            charset = None
        if charset:
            return charset
    return None


def decode_bytes(raw: bytes, declared: str | None, charsets: Charsets) -> str:
    """Header bytes sent unencoded: UTF-8, else the declared charset if it reads plausibly, else
    a plausible guess; replacement characters only when nothing fits."""
    scripts = allowed_scripts(charsets.languages)
    codec = known(declared)
    escaped = iso2022(raw)
    for candidate in (escaped, "utf-8", codec):
        if candidate is None:
            continue
        try:
            text = raw.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
        if candidate != codec or plausible(text, scripts):
            return text
    for candidate in charsets.guesses(raw, codec):
        try:
            return raw.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
    return raw.decode(codec or "utf-8", "replace")


def _word_bytes(encoding: str, text: str) -> bytes:
    try:
        if encoding in "bB":
            return binascii.a2b_base64(text + "=" * (-len(text) % 4))
        return binascii.a2b_qp(text, header=True)
    except (binascii.Error, ValueError):
        return text.encode("ascii", "replace")


def decode_words(value: str, charsets: Charsets) -> str:
    """RFC 2047 words decoded; adjacent words in one charset are joined before decoding (a
    character may be split across them) and the blanks between words dropped."""
    out: list[str] = []
    pending: tuple[str, bytearray] | None = None
    at = 0
    for word in _ENCODED.finditer(value):
        gap = value[at : word.start()]
        if pending is not None and not _BETWEEN.fullmatch(gap):
            out.append(decode_bytes(bytes(pending[1]), pending[0], charsets))
            pending = None
        if pending is None:
            out.append(gap)
        charset = word[1].split("*", 1)[0].lower()
        data = _word_bytes(word[2], word[3])
        if pending is not None and pending[0] == charset:
            pending[1].extend(data)
        else:
            if pending is not None:
                out.append(decode_bytes(bytes(pending[1]), pending[0], charsets))
            pending = (charset, bytearray(data))
        at = word.end()
    if pending is not None:
        out.append(decode_bytes(bytes(pending[1]), pending[0], charsets))
    out.append(value[at:])
    return "".join(out)


def decode_value(raw: str, charsets: Charsets | None = None) -> str:
    """A raw header value as text: cut, unfolded, 8-bit bytes and encoded words decoded."""
    guessing = charsets or Charsets()
    known_text = guessing.decoded.get(raw)
    if known_text is not None:
        return known_text
    value = _FOLD.sub("", raw[:MAX_HEADER_CHARS])
    if _SURROGATE.search(value) or "\x1b" in value:
        data = value.encode("utf-8", "surrogateescape")
        value = decode_bytes(data, guessing.header_charset, guessing)
    text = _SPACES.sub(" ", clean(decode_words(value, guessing))).strip()
    guessing.decoded[raw] = text
    return text


def header_text(msg: Message, name: str, charsets: Charsets | None = None) -> str | None:
    """The decoded value of the first `name` header, or None when there is none."""
    raw = raw_header(msg, name)
    if raw is None:
        return None
    guessing = charsets or Charsets(header_charset=declared_charset(msg))
    return decode_value(raw, guessing)


def header_count(msg: Message, name: str) -> int:
    return len(_index(msg).get(name.lower(), ()))


def has_header(msg: Message, name: str) -> bool:
    return name.lower() in _index(msg)


def message_id(value: str | None) -> str | None:
    """The bare `<id@host>` form of a Message-ID or In-Reply-To value."""
    ids = message_ids(value)
    return ids[0] if ids else None


def message_ids(value: str | None) -> tuple[str, ...]:
    """Every `<id>` in a References value, in order and once each."""
    if not value:
        return ()
    found = [f"<{m}>" for m in _MSG_ID.findall(value)]
    if not found:
        found = [f"<{m}>" for m in _BARE_ID.findall(value)]
    return tuple(dict.fromkeys(found))


def mail_date(msg: Message, charsets: Charsets | None = None) -> datetime | None:
    """The Date header as an aware datetime; a date without a zone is taken as UTC."""
    value = header_text(msg, "date", charsets)
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value[:200])
    except (TypeError, ValueError, IndexError, OverflowError):
        return None  # an unparseable date is only a defect, not a reason to refuse the mail
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
