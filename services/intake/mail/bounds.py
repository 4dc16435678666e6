"""MIME nesting and part counts bounded before the standard parser runs.

The parser recurses once per nesting level and checks each line against every open boundary,
so a message nested a thousand deep costs quadratic time and ends in RecursionError, and every
part costs it tens of microseconds. A linear scan over the delimiter lines finds the first part
deeper than MAX_DEPTH or beyond MAX_PARTS; the message is cut there, its open multiparts closed,
and the cut is noted: the customer's text, which comes first, is still read.

The same scan knows where each leaf part's body lies. The standard parser reads a body line by
line in Python (an attachment of 20 MB is 300,000 lines, most of a second), so a large body is
lifted out before it runs: the parser sees a one-line token, and the walker decodes the bytes
kept aside in C (`binascii`). Bodies inside an attached message stay, since that message is
kept whole as a file.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

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
LIFT_BYTES = 32 * 1024  # bodies at least this long are decoded outside the parser
_UUENCODE = re.compile(rb"content-transfer-encoding[ \t]*:[ \t]*x?-?uue", re.I)


@dataclass
class Bounded:
    """The message as the parser should read it: cut to the limits (with a note), its large
    bodies replaced by tokens (`lifted` maps each token to the body's bytes as sent)."""

    raw: bytes
    note: str | None = None
    lifted: dict[str, bytes] = field(default_factory=dict)


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
        # (boundary, depth of its multipart, whether it is inside an attached message)
        self.open: list[tuple[bytes, int, bool]] = []
        self.parts = 0
        self.leaves: list[tuple[int, int, int]] = []  # (header start, body start, body end)
        self._leaf: tuple[int, int] | None = None  # the leaf being read, if it may be lifted

    def _end_leaf(self, end: int) -> None:
        if self._leaf is not None:
            self.leaves.append((*self._leaf, end))
            self._leaf = None

    def enter(self, start: int, depth: int, inside: bool = False) -> int | None:
        """Read the part whose headers start at `start`; where to cut, if it is too much."""
        while True:
            ctype, boundary, body = _head(self.raw, start)
            if ctype.startswith(b"multipart/") and boundary:
                self.open.append((boundary, depth, inside))
                return None
            if ctype not in _MESSAGES:
                # Only a body whose header block was seen to end: a longer block was cut.
                if not inside and _BLANK.search(self.raw, max(start, body - 4), body):
                    self._leaf = (start, body)
                return None
            inside = True
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
                break
            at += 1
            line = _DELIMITER.match(self.raw, at)
            found = self.delimiter(line[1]) if line else None
            if line is None or found is None:
                continue
            # The line break before a delimiter belongs to the delimiter (RFC 2046).
            self._end_leaf(at - 2 if self.raw[at - 2 : at] == b"\r\n" else at - 1)
            index, closing = found
            depth, inside = self.open[index][1] + 1, self.open[index][2]
            del self.open[index + (1 if not closing else 0) :]
            if closing:
                continue
            self.parts += 1
            if depth > MAX_DEPTH or self.parts > MAX_PARTS:
                return at
            cut = self.enter(line.end(), depth, inside)
        if cut is None:
            self._end_leaf(len(self.raw))
        return cut

    def lift(self, upto: int) -> tuple[bytes, dict[str, bytes]]:
        """The message up to `upto` with its large leaf bodies replaced by tokens."""
        lifted: dict[str, bytes] = {}
        pieces: list[bytes] = []
        at = 0
        stamp = secrets.token_hex(8)
        for header, start, end in self.leaves:
            if end > upto or end - start < LIFT_BYTES:
                continue
            if _UUENCODE.search(self.raw, header, start):
                continue  # the parser's own uudecode reads these
            token = f"helpdesk-lifted-{stamp}-{len(lifted)}"
            lifted[token] = self.raw[start:end]
            pieces += [self.raw[at:start], token.encode()]
            at = end
        pieces.append(self.raw[at:upto])
        return b"".join(pieces), lifted


def bound(raw: bytes) -> Bounded:
    """The message cut before its first part too deep or too many (with a note when it was),
    and its large bodies lifted out."""
    scan = _Scan(raw)
    cut = scan.run()
    if cut is None:
        data, lifted = scan.lift(len(raw))
        return Bounded(data, None, lifted)
    closing = b"".join(b"\r\n--" + boundary + b"--\r\n" for boundary, *_ in reversed(scan.open))
    note = (
        f"the message nests deeper than {MAX_DEPTH} levels or has more than {MAX_PARTS} parts; "
        "it was read up to there"
    )
    data, lifted = scan.lift(cut)
    return Bounded(data + closing, note, lifted)
