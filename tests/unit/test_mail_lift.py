"""Large bodies are decoded outside the standard parser (`bounds`): what comes out is what the
parser itself would have given, whatever the encoding, nesting or header shape."""

from __future__ import annotations

import os
from email.message import EmailMessage

import pytest

from services.intake.mail import MailLimits, ParsedMail, bounds, normalise_email

BIG = bounds.LIFT_BYTES * 3
LIMITS = MailLimits()


def _mail(text: str = "Hello, the printer is broken.", **headers: str) -> EmailMessage:
    m = EmailMessage()
    m["From"] = headers.pop("From", "Ann <ann@example.com>")
    m["To"] = "support@helpdesk.example"
    m["Subject"] = headers.pop("Subject", "Printer")
    for name, value in headers.items():
        m[name.replace("_", "-")] = value
    m.set_content(text)
    return m


def both(raw: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[ParsedMail, ParsedMail]:
    """The message read with large bodies lifted, and read by the standard parser alone."""
    lifted = normalise_email(raw, LIMITS)
    with monkeypatch.context() as m:
        m.setattr(bounds, "LIFT_BYTES", 1 << 40)
        parsed = normalise_email(raw, LIMITS)
    assert isinstance(lifted, ParsedMail) and isinstance(parsed, ParsedMail)
    return lifted, parsed


def same(a: ParsedMail, b: ParsedMail) -> None:
    assert (a.text, a.quoted, a.signature, a.subject) == (b.text, b.quoted, b.signature, b.subject)
    assert [(x.filename, x.content_type, x.size, x.content) for x in a.attachments] == [
        (x.filename, x.content_type, x.size, x.content) for x in b.attachments
    ]


@pytest.mark.parametrize("cte", ["base64", "quoted-printable", "7bit", "8bit"])
@pytest.mark.parametrize("crlf", [False, True])
def test_large_attachments_come_out_as_the_parser_reads_them(
    cte: str, crlf: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = _mail()
    if cte in ("7bit", "8bit"):
        data = ("line of a log file, é\n" if cte == "8bit" else "line of a log file\n") * 2000
        m.add_attachment(data, subtype="plain", filename="log.txt", cte=cte)
    else:
        m.add_attachment(
            os.urandom(BIG), maintype="application", subtype="pdf", filename="scan.pdf", cte=cte
        )
    m.add_attachment(b"small", maintype="application", subtype="octet-stream", filename="s.bin")
    raw = m.as_bytes()
    if crlf:
        raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    assert bounds.bound(raw).lifted, "the large body was not lifted"
    lifted, parsed = both(raw, monkeypatch)
    same(lifted, parsed)
    assert len(lifted.attachments) == 2 and lifted.attachments[0].size >= 2000 * 18


@pytest.mark.parametrize("cte", ["base64", "quoted-printable"])
@pytest.mark.parametrize("lang", ["en", "fa", "ru", "el"])
def test_a_large_text_body_is_read_and_split_as_before(
    cte: str, lang: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = {
        "en": ("The printer is broken again.", "On Mon, 1 Jun 2026, Support wrote:"),
        "fa": ("چاپگر دوباره خراب شده است.", "در تاریخ ۱ ژوئن ۲۰۲۶، پشتیبانی نوشت:"),
        "ru": ("Принтер снова сломался.", "1 июня 2026 г., Поддержка написал:"),
        "el": ("Ο εκτυπωτής χάλασε ξανά.", "Στις 1 Ιουν 2026, ο χρήστης Υποστήριξη έγραψε:"),
    }[lang]
    text = "\n".join([lines[0]] * 1500 + ["", lines[1], ""] + ["> earlier answer"] * 500)
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "ann@example.com", "support@helpdesk.example", "Re: x"
    m.set_content(text, cte=cte)
    raw = m.as_bytes()
    assert bounds.bound(raw).lifted
    lifted, parsed = both(raw, monkeypatch)
    same(lifted, parsed)
    assert lifted.text.startswith(lines[0]) and "earlier answer" in lifted.quoted


def test_an_attached_message_is_kept_whole_with_its_large_body(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inner = _mail("forwarded text " * 5000, Subject="Old thread")
    inner.add_attachment(os.urandom(BIG), maintype="image", subtype="png", filename="a.png")
    outer = _mail()
    outer.add_attachment(inner, disposition="attachment")
    raw = outer.as_bytes()
    assert not bounds.bound(raw).lifted, "a body inside an attached message was lifted"
    lifted, parsed = both(raw, monkeypatch)
    same(lifted, parsed)


def test_a_header_block_too_long_to_scan_is_never_taken_for_a_body() -> None:
    cc = ",\r\n ".join(f"n{i}@example.com" for i in range(9_000))  # 170 kB of header
    raw = _mail().as_bytes().replace(b"To:", f"Cc: {cc}\r\nTo:".encode(), 1)
    assert not bounds.bound(raw).lifted
    result = normalise_email(raw, LIMITS)
    assert isinstance(result, ParsedMail) and result.text == "Hello, the printer is broken."


def test_text_that_looks_like_a_token_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    m = _mail("helpdesk-lifted-0000000000000000-0")
    m.add_attachment(os.urandom(BIG), maintype="application", subtype="zip", filename="x.zip")
    lifted, parsed = both(m.as_bytes(), monkeypatch)
    same(lifted, parsed)
    assert lifted.text == "helpdesk-lifted-0000000000000000-0"


def test_a_message_cut_at_its_part_limit_still_reads_its_large_bodies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    m = _mail()
    m.add_attachment(os.urandom(BIG), maintype="application", subtype="pdf", filename="big.pdf")
    for i in range(bounds.MAX_PARTS + 20):
        m.add_attachment(b"x", maintype="application", subtype="octet-stream", filename=f"{i}")
    lifted, parsed = both(m.as_bytes(), monkeypatch)
    same(lifted, parsed)
    assert lifted.attachments[0].filename == "big.pdf"
    assert any("it was read up to there" in d for d in lifted.defects)
