"""Header values read without ever raising: addresses, message ids, dates and a decoded subject."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime

from services.intake.mail.decode import clean, decode_text

_MSG_ID = re.compile(r"<([^<>\s]+)>")
_BARE_ID = re.compile(r"[^<>\s@]+@[^<>\s@]+")
_SPACES = re.compile(r"\s+")
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+$")


def header_text(msg: Message, name: str) -> str | None:
    """The decoded value of the first `name` header, or its raw text if it will not parse."""
    try:
        value = msg.get(name)
        if value is None:
            return None
        text = str(value)
    except Exception:  # the header registry chokes on some malformed values; keep the raw text
        raw = next((v for k, v in msg.raw_items() if k.lower() == name.lower()), None)
        if raw is None:
            return None
        text = raw if isinstance(raw, str) else str(raw)
    return _SPACES.sub(" ", clean(_unescape(text))).strip()


def _unescape(text: str) -> str:
    """Raw 8-bit header bytes come back as surrogates: read them as UTF-8, else detect."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return decode_text(raw, None).text


def header_count(msg: Message, name: str) -> int:
    return sum(1 for key in msg.keys() if key.lower() == name.lower())


def has_header(msg: Message, name: str) -> bool:
    return any(key.lower() == name.lower() for key in msg.keys())


def addresses(msg: Message, name: str) -> list[tuple[str | None, str]]:
    """(display name, lower-case address) of every mailbox in the `name` headers."""
    found: list[tuple[str | None, str]] = []
    try:
        for value in msg.get_all(name) or []:
            for mailbox in getattr(value, "addresses", ()):
                found.append((mailbox.display_name or None, mailbox.addr_spec))
    except Exception:  # a header object that will not parse: fall back to the lenient parser
        found = []
    if not found:
        raw = [v for k, v in msg.raw_items() if k.lower() == name.lower()]
        found = [(n or None, a) for n, a in getaddresses([str(v) for v in raw])]
    result: list[tuple[str | None, str]] = []
    for display, address in found:
        address = address.strip().strip("<>").lower()
        if _ADDRESS.match(address) and all(address != seen for _, seen in result):
            result.append((clean(display) if display else None, address))
    return result


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


def mail_date(msg: Message) -> datetime | None:
    """The Date header as an aware datetime; a date without a zone is taken as UTC."""
    try:
        value = msg.get("date")
        parsed = getattr(value, "datetime", None)
        if parsed is None and value is not None:
            parsed = parsedate_to_datetime(str(value))
    except Exception:  # an unparseable date is only a defect, not a reason to refuse the mail
        return None
    if not isinstance(parsed, datetime):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def header_defects(msg: EmailMessage, names: tuple[str, ...]) -> list[str]:
    found: list[str] = []
    for name in names:
        try:
            value = msg.get(name)
            found += [f"{name}: {type(d).__name__}" for d in getattr(value, "defects", ())]
        except Exception as exc:  # reported as a defect; the raw value is used instead
            found.append(f"{name}: {type(exc).__name__}")
    return found
