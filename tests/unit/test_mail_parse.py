"""Headers, attachments and the refusals of malformed, empty and oversize mail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from services.intake.mail import MailLimits, ParsedMail, normalise_email
from services.intake.rejections import Rejected


def raw_mail(
    body: bytes | str = "Hello, the printer is broken.\n",
    *,
    subject: str = "Printer",
    sender: str | None = "Ann <ann@example.com>",
    content_type: str = "text/plain; charset=utf-8",
    encoding: str = "8bit",
    extra: dict[str, str] | None = None,
) -> bytes:
    """A one-part email with CRLF line ends, as it comes off the wire."""
    lines = [f"From: {sender}"] if sender is not None else []
    lines += ["To: support@helpdesk.example", f"Subject: {subject}", "MIME-Version: 1.0"]
    lines += [f"{k}: {v}" for k, v in (extra or {}).items()]
    lines += [f"Content-Type: {content_type}", f"Content-Transfer-Encoding: {encoding}"]
    data = body.encode("utf-8") if isinstance(body, str) else body
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + data.replace(b"\n", b"\r\n")


def parsed(raw: bytes, limits: MailLimits | None = None) -> ParsedMail:
    result = normalise_email(raw, limits or MailLimits())
    assert isinstance(result, ParsedMail), result
    return result


def rejected(raw: bytes, limits: MailLimits | None = None) -> Rejected:
    result = normalise_email(raw, limits or MailLimits())
    assert isinstance(result, Rejected), result
    return result


def test_message_ids_are_bare_and_references_a_tuple() -> None:
    mail = parsed(
        raw_mail(
            extra={
                "Message-ID": "  <abc@host.example> (comment)",
                "In-Reply-To": "Your message of Monday <prev@host.example>",
                "References": "<a@h>\r\n <b@h> <a@h>",
            }
        )
    )
    assert mail.message_id == "<abc@host.example>"
    assert mail.in_reply_to == "<prev@host.example>"
    assert mail.references == ("<a@h>", "<b@h>")


def test_addresses_are_lower_case_and_names_decoded() -> None:
    raw = raw_mail(
        sender="=?utf-8?b?0JjQstCw0L0=?= <IVAN@Example.RU>",
        extra={"Cc": "A <A@X.example>, b@x.example, a@x.example"},
    )
    mail = parsed(raw)
    assert (mail.from_address, mail.from_name) == ("ivan@example.ru", "Иван")
    assert mail.to_addresses == ("support@helpdesk.example",)
    assert mail.cc_addresses == ("a@x.example", "b@x.example")


def test_dates_are_aware_and_a_date_without_zone_is_utc() -> None:
    mail = parsed(raw_mail(extra={"Date": "Mon, 03 Jun 2024 10:15:00 +0330"}))
    assert mail.date == datetime(2024, 6, 3, 10, 15, tzinfo=timezone(timedelta(hours=3.5)))
    mail = parsed(raw_mail(extra={"Date": "Mon, 03 Jun 2024 10:15:00 -0000"}))
    assert mail.date == datetime(2024, 6, 3, 10, 15, tzinfo=UTC)
    assert parsed(raw_mail(extra={"Date": "yesterday"})).date is None


def test_attachments_record_size_and_refuse_content_over_the_limit() -> None:
    body = (
        "--b\nContent-Type: text/plain\n\nsee files\n"
        "--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment; "
        'filename="../../etc/big.bin"\n\n' + "x" * 50 + "\n"
        "--b\nContent-Type: application/pdf\nContent-Disposition: attachment\n\nsmall\n--b--\n"
    )
    mail = parsed(
        raw_mail(body, content_type='multipart/mixed; boundary="b"'),
        MailLimits(max_attachment_bytes=10),
    )
    big, small = mail.attachments
    assert (big.filename, big.size, big.content, big.refused) == (
        "big.bin",
        50,
        None,
        "larger than 10 bytes",
    )
    assert (small.filename, small.content, small.refused) == ("attachment-2.pdf", b"small", None)


def test_whole_message_over_the_limit_is_oversize() -> None:
    result = rejected(raw_mail("x" * 500), MailLimits(max_message_bytes=100))
    assert result.kind == "oversize" and "over the limit of 100" in result.detail


def test_new_text_over_the_limit_is_oversize() -> None:
    assert rejected(raw_mail("word " * 100), MailLimits(max_text_chars=50)).kind == "oversize"


def test_subject_only_is_a_contact_but_nothing_at_all_is_empty() -> None:
    assert parsed(raw_mail("", subject="Call me back")).text == ""
    assert rejected(raw_mail("\n\n", subject="")).kind == "empty_contact"


def test_unparseable_from_is_no_identity() -> None:
    result = rejected(raw_mail(sender="just a name"))
    assert result.kind == "no_identity" and "just a name" in result.detail


def test_bytes_that_are_no_email_are_invalid_mime() -> None:
    assert rejected(b"").kind == "invalid_mime"
    assert rejected(b"\x00\x01\x02 not a mail at all\n\x00").kind == "invalid_mime"


def test_broken_structure_is_recorded_as_defects_not_refused() -> None:
    raw = raw_mail("no boundary here\n", content_type="multipart/mixed")
    mail = parsed(raw)
    assert "no boundary here" in mail.text
    assert "NoBoundaryInMultipartDefect" in mail.defects


def test_inline_image_in_related_is_an_inline_attachment() -> None:
    body = (
        "--r\nContent-Type: text/html\n\n<p>look <img src='cid:i1'></p>\n"
        "--r\nContent-Type: image/gif\nContent-ID: <i1>\nContent-Transfer-Encoding: base64\n\n"
        "R0lGODlhAQABAAAAACw=\n--r--\n"
    )
    mail = parsed(raw_mail(body, content_type='multipart/related; boundary="r"'))
    assert mail.text == "look"
    assert mail.html_only
    (image,) = mail.attachments
    assert image.inline and image.content_type == "image/gif" and image.content is not None
