"""Auto-replies, bounces and mail loops are recognised and refused with their kind."""

from __future__ import annotations

import base64

import pytest

from services.intake.mail import MailLimits, ParsedMail, normalise_email
from services.intake.rejections import Rejected
from tests.unit.test_mail_parse import raw_mail


def kind_of(raw: bytes, limits: MailLimits | None = None) -> str:
    result = normalise_email(raw, limits or MailLimits())
    return result.kind if isinstance(result, Rejected) else "parsed"


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-replied"},
        {"Auto-Submitted": "auto-generated; owner-email=x@y.z"},
        {"X-Autoreply": "yes"},
        {"X-Autorespond": "Out of office"},
        {"X-Auto-Response-Suppress": "DR, OOF, AutoReply"},
        {"X-Auto-Response-Suppress": "All"},
        {"Precedence": "bulk"},
        {"Precedence": "junk"},
        {"Precedence": "auto_reply"},
        {"X-MS-Exchange-Inbox-Rules-Loop": "ann@example.com"},
    ],
)
def test_automatic_reply_headers_are_refused(headers: dict[str, str]) -> None:
    assert kind_of(raw_mail(extra=headers)) == "auto_reply"


@pytest.mark.parametrize(
    "subject",
    [
        "Auto: Printer",
        "Automatic reply: Printer",
        "Out of Office: back on Monday",
        "Автоответ: Принтер",
        "Αυτόματη απάντηση: Εκτυπωτής",
        "پاسخ خودکار: چاپگر",
    ],
)
def test_automatic_reply_subjects_are_refused(subject: str) -> None:
    encoded = f"=?utf-8?b?{base64.b64encode(subject.encode()).decode()}?="
    assert kind_of(raw_mail(subject=encoded)) == "auto_reply"


def test_a_person_saying_no_to_auto_submitted_is_a_contact() -> None:
    assert kind_of(raw_mail(extra={"Auto-Submitted": "no", "Precedence": "list"})) == "parsed"


def test_a_delivery_status_part_anywhere_is_a_bounce() -> None:
    body = (
        "--b\nContent-Type: text/plain\n\nfailed\n"
        "--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx\n\n"
        "Final-Recipient: rfc822; a@b.c\nAction: failed\n--b--\n"
    )
    assert kind_of(raw_mail(body, content_type='multipart/mixed; boundary="b"')) == "bounce"


def test_mailer_daemon_needs_the_null_return_path_to_be_a_bounce() -> None:
    sender = "MAILER-DAEMON@mx.example.com"
    assert kind_of(raw_mail(sender=sender, extra={"Return-Path": "<>"})) == "bounce"
    assert kind_of(raw_mail(sender=sender, extra={"Return-Path": "<a@b.c>"})) == "parsed"


def test_failed_recipients_header_marks_a_bounce() -> None:
    assert kind_of(raw_mail(extra={"X-Failed-Recipients": "gone@example.com"})) == "bounce"


def test_our_loop_header_is_a_loop() -> None:
    assert kind_of(raw_mail(extra={"X-Helpdesk-Loop": "1"})) == "mail_loop"


def test_mail_from_our_own_address_is_a_loop() -> None:
    limits = MailLimits(support_addresses=("support@helpdesk.example",))
    raw = raw_mail(sender="Support <Support@Helpdesk.Example>")
    result = normalise_email(raw, limits)
    assert isinstance(result, Rejected) and result.kind == "mail_loop"
    assert "support@helpdesk.example" in result.detail


def test_too_many_relays_is_a_loop_and_a_few_are_not() -> None:
    hops = "".join(f"Received: from r{i}.example by r{i + 1}.example\r\n" for i in range(5))
    raw = hops.encode() + raw_mail()
    assert kind_of(raw, MailLimits(max_received_hops=4)) == "mail_loop"
    assert isinstance(normalise_email(raw, MailLimits(max_received_hops=5)), ParsedMail)
