"""The MIME tree: attached messages stay attachments, and nesting, part counts and text sizes
beyond what mail clients send are cut or refused with a clear outcome."""

from __future__ import annotations

from services.intake.mail import MailLimits
from services.intake.mail.bounds import MAX_DEPTH, MAX_PARTS
from tests.unit.test_mail_parse import parsed, raw_mail, rejected

INNER = (
    b"From: Carol <carol@vendor.example>\nSubject: Your licence expires\n"
    b"Content-Type: text/plain; charset=utf-8\n\nYour licence expires on 30 June.\n"
)


def _with_message(disposition: str) -> bytes:
    body = (
        b"--b\nContent-Type: text/plain\n\nThe vendor's mail, for your records.\n"
        b"--b\nContent-Type: message/rfc822\n" + disposition.encode() + b"\n\n" + INNER + b"--b--\n"
    )
    return raw_mail(body, content_type='multipart/mixed; boundary="b"')


def test_a_message_attached_as_an_attachment_stays_an_attachment() -> None:
    mail = parsed(_with_message("Content-Disposition: attachment"))
    assert mail.text == "The vendor's mail, for your records."
    (attached,) = mail.attachments
    assert (attached.filename, attached.content_type) == (
        "Your licence expires.eml",
        "message/rfc822",
    )
    assert attached.content is not None and attached.content.startswith(b"From: Carol")


def test_a_message_forwarded_inline_is_read_as_text() -> None:
    mail = parsed(_with_message("Content-Disposition: inline"))
    assert "Your licence expires on 30 June." in mail.text
    assert mail.attachments == ()


def _nested(depth: int) -> bytes:
    body = b"Content-Type: text/plain\n\ninnermost\n"
    for level in range(depth):
        body = (
            f'Content-Type: multipart/mixed; boundary="d{level}"\n\n--d{level}\n'.encode()
            + body
            + f"\n--d{level}--\n".encode()
        )
    head, _, rest = body.partition(b"\n\n")
    return raw_mail(b"Top text\n" if depth == 0 else rest, content_type=head.decode()[14:])


def test_nesting_deeper_than_mail_clients_go_is_read_up_to_the_limit() -> None:
    assert parsed(_nested(MAX_DEPTH - 1)).text == "innermost"
    deep = parsed(_nested(2000))  # the standard parser alone ends in RecursionError here
    assert "innermost" not in deep.text
    assert any(f"deeper than {MAX_DEPTH} levels" in note for note in deep.defects)


def test_parts_beyond_the_limit_are_not_read_and_that_is_noted() -> None:
    part = b"--p\nContent-Type: application/pdf\nContent-Disposition: attachment\n\n%PDF\n"
    body = b"--p\nContent-Type: text/plain\n\nSee the files.\n" + part * 3000 + b"--p--\n"
    mail = parsed(raw_mail(body, content_type='multipart/mixed; boundary="p"'))
    assert mail.text == "See the files."
    assert len(mail.attachments) == MAX_PARTS - 1
    assert any(f"more than {MAX_PARTS} parts" in note for note in mail.defects)


def test_a_text_part_too_large_to_be_read_is_oversize_before_it_is_decoded() -> None:
    result = rejected(raw_mail("x" * 5_000), MailLimits(max_text_chars=100))
    assert result.kind == "oversize" and "a text part of" in result.detail
