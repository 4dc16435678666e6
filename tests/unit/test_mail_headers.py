"""Header blocks the standard parser stops early on are repaired, and raw 8-bit header bytes are
decoded (by detection when the declared charset does not fit), not turned into U+FFFD."""

from __future__ import annotations

import pytest

from services.intake.mail import ParsedMail, normalise_email
from services.intake.mail.charsets import Charsets
from services.intake.mail.headers import decode_value
from tests.unit.test_mail_parse import parsed

HEADERS = b"From: Ann <ann@example.com>\r\nTo: support@helpdesk.example\r\nSubject: Printer\r\n"
BODY = b"\r\nThe printer is broken.\r\n"


@pytest.mark.parametrize(
    "before",
    [
        b"From ann@example.com Mon Jun  3 10:15:00 2024\r\n",  # an mbox separator
        b"\r\n",  # a blank first line
        b"\r\nFrom ann@example.com Mon Jun  3 10:15:00 2024\r\n",
        b"=====================\r\n",  # garbage
        b"\xef\xbb\xbf",  # a byte-order mark
    ],
)
def test_lines_before_the_headers_do_not_push_them_into_the_body(before: bytes) -> None:
    mail = parsed(before + HEADERS + BODY)
    assert (mail.from_address, mail.subject) == ("ann@example.com", "Printer")
    assert mail.text == "The printer is broken."


def test_a_continuation_line_without_leading_blank_stays_in_its_header() -> None:
    raw = (
        b"From: Ann <ann@example.com>\r\nX-Note: first half\r\nsecond half\r\n"
        b"To: support@helpdesk.example\r\nSubject: Printer\r\n" + BODY
    )
    mail = parsed(raw)
    assert (mail.to_addresses, mail.subject) == (("support@helpdesk.example",), "Printer")
    assert mail.text == "The printer is broken."
    assert "malformed header lines repaired" in mail.defects


def test_a_blank_before_the_colon_is_tolerated() -> None:
    mail = parsed(HEADERS.replace(b"From:", b"From :").replace(b"Subject:", b"Subject  :") + BODY)
    assert (mail.from_address, mail.subject) == ("ann@example.com", "Printer")


def test_a_body_without_the_blank_separator_line_is_still_the_body() -> None:
    mail = parsed(HEADERS + b"The printer is broken.\r\n\r\nPlease help.\r\n")
    assert mail.subject == "Printer"
    assert "The printer is broken." in mail.text


def test_a_header_block_larger_than_any_server_accepts_is_oversize() -> None:
    raw = b"X-Filler: " + b"x" * 70 + b"\r\n"
    result = normalise_email(raw * 4000 + HEADERS + BODY)
    assert not isinstance(result, ParsedMail) and result.kind == "oversize"


def _mail_with(subject: bytes, charset: str, from_name: bytes = b"Ann") -> ParsedMail:
    raw = (
        b"From: " + from_name + b" <ann@example.com>\r\nTo: support@helpdesk.example\r\n"
        b"Subject: "
        + subject
        + b"\r\nContent-Type: text/plain; charset="
        + charset.encode()
        + b"\r\n\r\nsee subject\r\n"
    )
    return parsed(raw)


def test_raw_8bit_headers_are_read_in_the_declared_charset() -> None:
    mail = _mail_with("Счёт не пришёл".encode("cp1251"), "windows-1251", "Иван".encode("cp1251"))
    assert (mail.subject, mail.from_name) == ("Счёт не пришёл", "Иван")


@pytest.mark.parametrize(
    ("text", "codec", "declared"),
    [
        ("Счёт не пришёл", "cp1251", "utf-8"),
        ("Πρόβλημα σύνδεσης", "iso-8859-7", "us-ascii"),
        ("مشكل پرداخت", "cp1256", "utf-8"),
        ("Счёт на оплату", "utf-8", "windows-1251"),  # UTF-8 wins over the declared charset
        ("請求書", "iso2022_jp", "us-ascii"),
    ],
)
def test_raw_8bit_headers_not_in_the_declared_charset_are_detected(
    text: str, codec: str, declared: str
) -> None:
    assert _mail_with(text.encode(codec), declared).subject == text


def test_encoded_words_split_inside_a_character_are_joined_before_decoding() -> None:
    # "Привет" in UTF-8 cut in the middle of "и": each word alone is not valid UTF-8.
    value = "=?utf-8?b?0J/RgNA=?= =?UTF-8?B?uNCy0LXRgg==?="
    assert decode_value(value, Charsets()) == "Привет"


def test_unknown_encoded_word_charsets_and_broken_words_never_raise() -> None:
    assert decode_value("=?x-bogus?q?caf=E9?= =?utf-8?b?////?= end", Charsets()).endswith("end")
