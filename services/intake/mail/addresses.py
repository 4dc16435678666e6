"""Mailboxes read leniently from address headers, in linear time and without recursion: quoted
local parts ("john smith"@example.com), a trailing dot in the domain, an address written after
a name without angle brackets, a display name with an unquoted comma. The sender is taken from
From, else Reply-To (where the person wants answers), else Sender (which lists rewrite)."""

from __future__ import annotations

import re
from email.message import Message

from services.intake.mail.charsets import Charsets
from services.intake.mail.headers import header_text

SENDER_HEADERS = ("from", "reply-to", "sender")
MAX_MAILBOXES = 500  # addresses read from one header; a longer list is no person's mail
_ANGLE = re.compile(r"<([^<>]{0,320})>")
_COMMENT = re.compile(r"\(([^()]{0,320})\)")
# An addr-spec anywhere in the text: a quoted or plain local part, then a domain. Both parts are
# bounded and exclude '@', so each start position costs a bounded amount.
_ADDR_SPEC = re.compile(r'(?:"[^"\r\n]{1,64}"|[^\s<>()\[\],;:"@]{1,64})@[^\s<>()\[\],;:"@]{1,253}')
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_NAME_EDGES = " \t\"'<>,;:[]"


def _segments(value: str) -> list[str]:
    """The value split at top-level commas and semicolons; a group's "Name:" is dropped."""
    segments: list[str] = []
    current: list[str] = []
    quoted = False
    angle = comment = 0
    escaped = False
    for ch in value:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"' and not comment:
            quoted = not quoted
        elif not quoted:
            if ch == "(":
                comment += 1
            elif ch == ")" and comment:
                comment -= 1
            elif not comment and ch == "<":
                angle += 1
            elif not comment and ch == ">" and angle:
                angle -= 1
            elif not comment and not angle and ch in ",;":
                segments.append("".join(current))
                current = []
                continue
            elif not comment and not angle and ch == ":":
                current = []  # "undisclosed-recipients:" names a group, not a mailbox
                continue
        current.append(ch)
        if len(segments) >= MAX_MAILBOXES:
            break
    segments.append("".join(current))
    return segments


def normal_address(address: str) -> str | None:
    """Lower case, no trailing dot on the domain, a needlessly quoted local part unquoted."""
    address = address.strip().removeprefix("mailto:").strip()
    local, at, domain = address.rpartition("@")
    domain = domain.strip().rstrip(".").lower()
    local = local.strip()
    if not at or not local or not domain or any(ch.isspace() for ch in domain):
        return None
    if len(local) > 2 and local.startswith('"') and local.endswith('"'):
        inner = local[1:-1]
        if _DOT_ATOM.fullmatch(inner):
            local = inner
    elif any(ch.isspace() or ch in '"<>' for ch in local):
        return None
    return f"{local}@{domain}".lower()


def _mailbox(segment: str) -> tuple[str | None, str] | None:
    """(display name, address) of one mailbox's text, or None when it holds no address."""
    address = None
    rest = segment
    for inside in reversed(_ANGLE.findall(segment)):
        address = normal_address(inside)
        if address is not None:
            rest = segment[: segment.rfind("<")]
            break
    if address is None:
        found = list(_ADDR_SPEC.finditer(segment))
        for match in reversed(found):
            address = normal_address(match.group())
            if address is not None:
                rest = segment[: match.start()] + segment[match.end() :]
                break
    if address is None:
        return None
    comments = _COMMENT.findall(rest)
    name = _COMMENT.sub(" ", rest).strip(_NAME_EDGES)
    if not name and comments:
        name = comments[0].strip(_NAME_EDGES)  # "ann@example.com (Ann Smith)"
    name = name.replace('\\"', '"').strip()
    return (name if name and name.lower() != address else None, address)


def mailboxes(value: str | None) -> list[tuple[str | None, str]]:
    """(display name, lower-case address) of every mailbox in a decoded value, once each.

    Text without an address before a mailbox belongs to its name: "Smith, Ann <ann@x>".
    """
    found: list[tuple[str | None, str]] = []
    carried = ""
    for segment in _segments(value or ""):
        mailbox = _mailbox(segment)
        if mailbox is None:
            carried = f"{carried}, {segment.strip()}" if carried else segment.strip()
            continue
        name, address = mailbox
        if carried and name:
            name = f"{carried.strip(_NAME_EDGES)}, {name}"
        carried = ""
        if all(address != seen for _, seen in found):
            found.append((name, address))
    return found


def addresses(
    msg: Message, name: str, charsets: Charsets | None = None
) -> list[tuple[str | None, str]]:
    """(display name, lower-case address) of every mailbox in the first `name` header."""
    return mailboxes(header_text(msg, name, charsets))


def sender(msg: Message, charsets: Charsets | None = None) -> tuple[str | None, str, str] | None:
    """(display name, address, header it came from) of the person who wrote the mail."""
    for name in SENDER_HEADERS:
        found = addresses(msg, name, charsets)
        if found:
            return (*found[0], name)
    return None
