"""The top header block repaired before the standard parser reads it, which otherwise stops at
the first line it does not expect and drops From, To and Subject into the body: a leading mbox
`From ` line, blank or garbage first lines, a byte-order mark, "Subject : x" with a space before
the colon, and continuation lines that lost their leading white space."""

from __future__ import annotations

import re

MAX_HEADER_BLOCK = 256 * 1024  # bytes; Exchange refuses larger header blocks, so do we
_LEADING_JUNK = 3  # lines before the headers that can be skipped
_BOM = b"\xef\xbb\xbf"
_LINE_END = re.compile(rb"\r?\n")
# A field name (printable, no colon), maybe blanks, then the colon.
_HEADER = re.compile(rb"[\x21-\x39\x3b-\x7e]+[ \t]*:")
_SPACED_COLON = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]+:")
_BLANK = re.compile(rb"\r?\n\r?\n")
# A line in the header block that is neither "Name:" nor a continuation.
_ODD_LINE = re.compile(rb"^(?![ \t]|[\x21-\x39\x3b-\x7e]+:)[^\r\n]", re.MULTILINE)


def _is_header(line: bytes) -> bool:
    return _HEADER.match(line) is not None


def _block_end(raw: bytes) -> int:
    """Where the header block ends (the blank line), or len(raw) when it never does."""
    if raw.startswith((b"\r\n", b"\n")):
        return 0
    found = _BLANK.search(raw, 0, MAX_HEADER_BLOCK + 4)
    return found.start() if found else len(raw)


def _junk_lines(raw: bytes) -> int:
    """How many lines (blank, an mbox `From ` line, garbage) come before the header block."""
    lines = _LINE_END.split(raw[:8192], maxsplit=_LEADING_JUNK + 2)
    if lines and _is_header(lines[0]):
        return 0
    for skip in range(1, _LEADING_JUNK + 1):
        if len(lines) > skip + 1 and _is_header(lines[skip]) and _is_header(lines[skip + 1]):
            return skip
    return 0


def _without_lines(raw: bytes, count: int) -> bytes:
    ends = _LINE_END.finditer(raw)
    cut = 0
    for _ in range(count):
        cut = next(ends).end()
    return raw[cut:]


def repair(raw: bytes) -> tuple[bytes, list[str]] | str:
    """The message with its top header block repaired, and notes on what changed; or the reason
    it cannot be a mail (a header block over MAX_HEADER_BLOCK bytes)."""
    notes: list[str] = []
    if raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
        notes.append("byte-order mark before the headers removed")
    junk = _junk_lines(raw)
    if junk:
        raw = _without_lines(raw, junk)
        notes.append(f"{junk} line(s) before the headers skipped")
    end = _block_end(raw)
    if end > MAX_HEADER_BLOCK:
        return f"the header block is over {MAX_HEADER_BLOCK} bytes, more than a mail server accepts"
    if _ODD_LINE.search(raw, 0, end) is None:
        return raw, notes  # the usual case: one pass in C finds nothing to repair
    lines = _LINE_END.split(raw[:end])
    last_header = max((i for i, line in enumerate(lines) if _is_header(line)), default=-1)
    changed = False
    for i, line in enumerate(lines):
        if not line or line[:1] in b" \t":
            continue
        if _is_header(line):
            if _SPACED_COLON.match(line):
                lines[i] = _SPACED_COLON.sub(rb"\1:", line, count=1)
                changed = True
        elif 0 < i < last_header:
            lines[i] = b" " + line  # a continuation line that lost its leading blank
            changed = True
    if not changed:
        return raw, notes
    notes.append("malformed header lines repaired")
    return b"\r\n".join(lines) + raw[end:], notes
