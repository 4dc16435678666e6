"""MIME nesting and part counts bounded before the standard parser runs.

The parser recurses once per nesting level and checks each line against every open boundary,
so a message nested a thousand deep costs quadratic time and ends in RecursionError, and every
part costs it tens of microseconds. A linear scan over the delimiter lines finds the first part
deeper than MAX_DEPTH or beyond MAX_PARTS; the message is cut there, its open multiparts closed,
and the cut is noted: the customer's text, which comes first, is still read.
"""

from __future__ import annotations

import re

MAX_DEPTH = 12  # no mail client nests deeper
MAX_PARTS = 200  # parts read; a mail with more (a mass of tiny parts) is read up to there
_HEAD_SCAN = 64 * 1024  # bytes of a part's header block looked at
_DELIMITER = re.compile(rb"--([^\r\n]{1,200}?)[ \t]*\r?(?:\n|\Z)")
_BLANK = re.compile(rb"\r?\n\r?\n")
_FOLD = re.compile(rb"\r?\n[ \t]+")
_CONTENT_TYPE = re.compile(rb"^content-type[ \t]*:[ \t]*([^\s;]*)([^\r\n]*)", re.I | re.M)
_BOUNDARY = re.compile(
    rb'boundary\*?(?:0\*?)?[ \t]*=[ \t]*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))', re.I
)
_MESSAGES = (b"message/rfc822", b"message/global")


def _head(raw: bytes, start: int) -> tuple[bytes, bytes | None, int]:
    """(content type, boundary, where the body starts) of the header block at `start`."""
    if raw.startswith((b"\r\n", b"\n"), start):
        return b"", None, raw.index(b"\n", start) + 1
    blank = _BLANK.search(raw, start, start + _HEAD_SCAN)
    end = blank.end() if blank else min(len(raw), start + _HEAD_SCAN)
    block = _FOLD.sub(b" ", raw[start:end])
    found = _CONTENT_TYPE.search(block)
    if found is None:
        return b"", None, end
    ctype = found[1].lower()
    boundary = _BOUNDARY.search(found[2])
    value = (boundary[1] or boundary[2]) if boundary else None
    if value is not None and value.lower().startswith(b"utf-8''"):
        value = value[7:]
    return ctype, value, end


class _Scan:
    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.open: list[tuple[bytes, int]] = []  # (boundary, depth of its multipart)
        self.parts = 0

    def enter(self, start: int, depth: int) -> int | None:
        """Read the part whose headers start at `start`; where to cut, if it is too much."""
        while True:
            ctype, boundary, body = _head(self.raw, start)
            if ctype.startswith(b"multipart/") and boundary:
                self.open.append((boundary, depth))
                return None
            if ctype not in _MESSAGES:
                return None
            depth += 1  # an attached message's own headers follow
            self.parts += 1
            if depth > MAX_DEPTH or self.parts > MAX_PARTS:
                return body
            start = body

    def delimiter(self, line: bytes) -> tuple[int, bool] | None:
        """Which open multipart a `--boundary` line belongs to, and whether it closes it."""
        for index in range(len(self.open) - 1, -1, -1):
            boundary = self.open[index][0]
            if line == boundary:
                return index, False
            if line == boundary + b"--":
                return index, True
        return None

    def run(self) -> int | None:
        cut = self.enter(0, 0)
        at = 0
        while cut is None and self.open:
            at = self.raw.find(b"\n--", at)
            if at < 0:
                return None
            at += 1
            line = _DELIMITER.match(self.raw, at)
            found = self.delimiter(line[1]) if line else None
            if line is None or found is None:
                continue
            index, closing = found
            depth = self.open[index][1] + 1
            del self.open[index + (1 if not closing else 0) :]
            if closing:
                continue
            self.parts += 1
            if depth > MAX_DEPTH or self.parts > MAX_PARTS:
                return at
            cut = self.enter(line.end(), depth)
        return cut


def bound(raw: bytes) -> tuple[bytes, str | None]:
    """The message cut before its first part too deep or too many, and a note when it was."""
    scan = _Scan(raw)
    cut = scan.run()
    if cut is None:
        return raw, None
    closing = b"".join(b"\r\n--" + boundary + b"--\r\n" for boundary, _ in reversed(scan.open))
    note = (
        f"the message nests deeper than {MAX_DEPTH} levels or has more than {MAX_PARTS} parts; "
        "it was read up to there"
    )
    return raw[:cut] + closing, note
