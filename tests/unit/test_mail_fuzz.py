"""Whatever the bytes, normalise_email answers with a ParsedMail or a Rejected and never raises."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.intake.mail import MailLimits, ParsedMail, normalise_email
from services.intake.rejections import Rejected, RejectionKind

CORPUS = sorted((Path(__file__).parents[1] / "corpus" / "mail").glob("*.eml"))
SAMPLES = [p.read_bytes() for p in CORPUS]
LIMITS = MailLimits(max_attachment_bytes=512, max_text_chars=5_000)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KINDS = set(get_args(RejectionKind))

HEADER_NAMES = [
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-Disposition",
    "MIME-Version",
    "Auto-Submitted",
    "Return-Path",
    "Received",
    "X-Auto-Response-Suppress",
    "Precedence",
]
CONTENT_TYPES = [
    "text/plain",
    "text/html",
    "multipart/mixed",
    "multipart/alternative",
    "multipart/related",
    "message/rfc822",
    "application/pdf",
    "image/png",
    "multipart/report",
    "text/x-unknown",
]
PARAMS = [
    "",
    "; charset=utf-8",
    "; charset=koi8-r",
    "; charset=x-bogus",
    '; boundary="b"',
    "; charset=",
    "; name*=utf-8''%FF%FE",
    "; boundary=",
    '; charset="windows-1256"',
]
ENCODINGS = ["7bit", "8bit", "base64", "quoted-printable", "binary", "x-uuencode", "bogus"]


def check(raw: bytes) -> None:
    result = normalise_email(raw, LIMITS)
    assert isinstance(result, ParsedMail | Rejected)
    if isinstance(result, Rejected):
        assert result.kind in KINDS and result.detail
    else:
        assert "@" in result.from_address and len(result.text) <= LIMITS.max_text_chars
        assert all(a.content is None or a.size <= 512 for a in result.attachments)
        assert result.date is None or result.date.tzinfo is not None


@FUZZ
@given(st.binary(max_size=4000))
def test_random_bytes_never_raise(raw: bytes) -> None:
    check(raw)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(0, 8))):
        op = draw(st.sampled_from(["flip", "truncate", "duplicate", "insert"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif op == "truncate":
            del data[at:]
        elif op == "duplicate":
            lines = bytes(data).split(b"\r\n")
            line = lines[min(at, len(lines) - 1) % max(1, min(len(lines), 12))]
            data = bytearray(line + b"\r\n") * draw(st.integers(1, 40)) + data
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=40))
    return bytes(data)


@FUZZ
@given(mutated())
def test_mutated_corpus_files_never_raise(raw: bytes) -> None:
    check(raw)


header_value = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["<>", "=?utf-8?b?////?=", "=?x-bad?q?a=ZZ?=", "a@b", "<a@b> <c@d>", "(((("]),
)
headers = st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_value), min_size=0, max_size=12)


@st.composite
def mime_part(draw: st.DrawFn, depth: int = 0) -> bytes:
    ctype = draw(st.sampled_from(CONTENT_TYPES)) + draw(st.sampled_from(PARAMS))
    head = f"Content-Type: {ctype}\r\nContent-Transfer-Encoding: {draw(st.sampled_from(ENCODINGS))}"
    if draw(st.booleans()):
        head += "\r\nContent-Disposition: " + draw(
            st.sampled_from(["attachment", "inline", 'attachment; filename="=?utf-8?q?a=C3?="'])
        )
    if ctype.startswith("multipart/") and depth < 3:
        children = draw(st.lists(mime_part(depth + 1), max_size=3))
        body = b"".join(b"--b\r\n" + child + b"\r\n" for child in children) + b"--b--\r\n"
    else:
        body = draw(st.binary(max_size=300))
    return head.encode() + b"\r\n\r\n" + body


@FUZZ
@given(headers, mime_part())
def test_random_header_and_mime_structures_never_raise(
    pairs: list[tuple[str, str]], part: bytes
) -> None:
    head = "".join(f"{name}: {value}\r\n" for name, value in pairs)
    check(head.encode("utf-8", "surrogatepass") + part)
