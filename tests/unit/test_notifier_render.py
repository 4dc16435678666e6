"""Notifier emails: every kind in every language, digests, escaping and the MIME message."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from html import unescape
from typing import Any

import pytest

from services.notifier.config import catalog, read_catalog
from services.notifier.domain.notices import Notice, NoticeKind, Recipient, Role
from services.notifier.domain.wording import LANGUAGES, email_language, placeholders
from services.notifier.email import OutgoingEmail, build_message
from services.notifier.render import render_email
from shared.ids import ticket_reference

KINDS: list[NoticeKind] = [
    "sla_warning",
    "sla_breach",
    "sla_prompt",
    "assigned",
    "escalated",
    "transfers_exceeded",
]
DUE = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def notice(kind: NoticeKind = "sla_breach", ticket_id: str = "t-42", **fields: Any) -> Notice:
    """A notice like `notice_of` makes for each kind of event."""
    base: dict[str, Any] = {
        "kind": kind,
        "event_id": f"e-{kind}-{ticket_id}",
        "event_type": "x",
        "occurred_at": DUE + timedelta(minutes=65),
        "ticket_id": ticket_id,
        "reference": ticket_reference(ticket_id),
        "subject": "Refund not received",
        "customer": "Acme Ltd",
    }
    if kind.startswith("sla_"):
        base |= {"metric": "first_response", "due_at": DUE, "priority": "P2", "team": "billing"}
        base |= {"assignee_id": "ag-nika", "level_percent": 80, "remaining_seconds": 900.0}
    if kind == "sla_breach":
        base |= {"level_percent": 100, "remaining_seconds": None, "overdue_seconds": 3900.0}
    if kind == "sla_prompt":
        base |= {"prompt": "call_customer", "metric": "resolution"}
    if kind == "assigned":
        base |= {"team": "billing", "assignee_id": "ag-nika", "to_tier": "L1", "reason": "skills"}
    if kind == "escalated":
        base |= {"from_tier": "L1", "to_tier": "L2", "reason": "needs an engineer"}
    if kind == "transfers_exceeded":
        base |= {"team": "billing", "transfer_count": 4, "reason": "passed around"}
    return Notice.model_validate(base | fields)


def person(language: str = "en", role: Role = "assignee", name: str = "Nika") -> Recipient:
    return Recipient(
        person_id="p-1", name=name, email="p1@helpdesk.example", language=language, role=role
    )


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_in_every_language_with_the_reference_first(
    kind: NoticeKind, language: str
) -> None:
    rendered = render_email([notice(kind)], person(language), console_url="https://c.example/")
    reference = ticket_reference("t-42")
    assert rendered.subject.startswith(f"[{reference}] ")
    assert rendered.language == language
    for part in (rendered.text, rendered.html):
        assert reference in part and "t-42" in part
    assert f'<html lang="{language}"' in rendered.html
    assert "\n" not in rendered.subject


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_text_and_html_parts_say_the_same(kind: NoticeKind, language: str) -> None:
    item = notice(kind, escalation_id="esc-1", rung=1)
    rendered = render_email([item], person(language, role="lead"), console_url="https://c.example/")
    html_text = unescape(re.sub(r"<[^>]+>", " ", rendered.html))
    shown = {word.rstrip(":") for word in html_text.split()}
    said = {word.rstrip(":") for word in rendered.text.split()} - {"--"}
    assert said <= shown
    assert "https://c.example/#escalation=esc-1" in shown


def test_breach_email_carries_the_same_facts_in_text_and_html() -> None:
    item = notice("sla_breach", escalation_id="esc-9", rung=0)
    rendered = render_email([item], person(), console_url="https://console.example/")
    assert rendered.subject == f"[{ticket_reference('t-42')}] First response overdue (P2)"
    facts = [
        "First response",
        "2026-01-05 09:00 UTC",
        "1 h 5 min",
        "P2",
        "billing",
        "Refund not received",
        "Please reply to the customer now.",
        "https://console.example/#escalation=esc-9",
    ]
    for fact in facts:
        assert fact in rendered.text and fact in rendered.html, fact


def test_asks_depend_on_the_role_and_the_rung() -> None:
    resolution = notice("sla_breach", metric="resolution")
    assert "please step in" in render_email([resolution], person(role="manager")).text
    unassigned = notice("sla_breach", assignee_id=None)
    assert "please assign someone" in render_email([unassigned], person(role="lead")).text
    later = notice("sla_breach", rung=1, escalation_id="esc-1")
    text = render_email([later], person(role="lead"), acknowledge_within=timedelta(minutes=15)).text
    assert "Nobody acknowledged it within 15 min; you are the next step." in text
    assert "acknowledge escalation esc-1 in the agent console" in text
    prompt = render_email([notice("sla_prompt")], person())
    assert prompt.subject.endswith("Still open: phone the customer (P2)")
    assert "Please phone the customer." in prompt.text


@pytest.mark.parametrize(
    ("language", "duration"),
    [("en", "1 h 5 min"), ("ru", "1 ч 5 мин"), ("el", "1 ώ 5 λ"), ("fa", "۱ ساعت ۵ دقیقه")],
)
def test_durations_are_localised(language: str, duration: str) -> None:
    assert duration in render_email([notice("sla_breach")], person(language)).text


def test_persian_html_is_right_to_left() -> None:
    rendered = render_email([notice("sla_breach")], person("fa"))
    assert '<html lang="fa" dir="rtl">' in rendered.html
    assert "پاسخ" in rendered.subject


def test_customer_text_is_escaped_in_html_and_shown_as_is_in_text() -> None:
    script = "<script>alert(1)</script>"
    item = notice("assigned", subject=f"Help {script}", customer=f"Eve {script}", reason=script)
    rendered = render_email([item], person())
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert f"Help {script}" in rendered.text and f"Eve {script}" in rendered.text


def test_subject_never_carries_line_breaks_or_controls_from_customer_text() -> None:
    item = notice("assigned", subject="Hi\r\nBcc: victim@example.com\x00\u202eexe.pdf")
    rendered = render_email([item], person())
    assert not any(ch in rendered.subject for ch in "\r\n\x00\u202e")
    assert "Bcc: victim@example.com" in rendered.subject  # on the same line, harmless
    mail = OutgoingEmail("a@x.example", "A", rendered.subject, rendered.text, "k", rendered.html)
    assert "Bcc" not in build_message(mail, "hd@x.example").keys()


def test_digest_lists_every_notice_and_every_reference() -> None:
    notices = [
        notice("sla_warning", "t-1"),
        notice("sla_prompt", "t-1"),
        notice("sla_warning", "t-2", metric="next_reply"),
    ]
    first, second = ticket_reference("t-1"), ticket_reference("t-2")
    rendered = render_email(notices, person())
    assert rendered.subject == f"[{first}] 3 notices [{second}]"
    for part in (rendered.text, rendered.html):
        assert "First response: 15 min left (P2)" in part
        assert "Still open: phone the customer" in part
        assert "Next reply: 15 min left (P2)" in part
        assert first in part and second in part


def test_digest_subject_stays_short_and_counts_what_it_leaves_out() -> None:
    notices = [notice("sla_warning", f"t-{n}") for n in range(40)]
    subject = render_email(notices, person("ru")).subject
    assert subject.startswith(f"[{ticket_reference('t-0')}] Уведомлений: 40 [")
    assert len(subject) <= 150 and subject.rsplit(" ", 1)[1].startswith("+")


def test_no_notices_is_an_error() -> None:
    with pytest.raises(ValueError):
        render_email([], person())


@pytest.mark.parametrize("language", ["de", "", "zz-ZZ"])
def test_unknown_language_falls_back_to_english(language: str) -> None:
    rendered = render_email([notice("sla_breach")], person(language))
    assert rendered.language == "en"
    assert rendered.subject.endswith("First response overdue (P2)")
    assert '<html lang="en" dir="ltr">' in rendered.html


def test_regional_language_tags_use_their_language() -> None:
    assert email_language("fa-IR") == "fa" and email_language("EL_gr") == "el"


@pytest.mark.parametrize("language", LANGUAGES[1:])
def test_catalogs_have_the_same_keys_and_placeholders_as_english(language: str) -> None:
    english, own = read_catalog("en"), read_catalog(language)
    assert set(own) == set(english)
    for key, text in own.items():
        assert placeholders(text) == placeholders(english[key]), key
    assert catalog(language)["direction"] == ("rtl" if language == "fa" else "ltr")


@pytest.mark.parametrize(
    ("language", "name"), [("fa", "نیکا احمدی"), ("el", "Ελένη Παπαδοπούλου"), ("ru", "Ольга")]
)
def test_message_is_multipart_alternative_and_round_trips(language: str, name: str) -> None:
    rendered = render_email([notice("sla_breach")], person(language, name=name))
    mail = OutgoingEmail(
        "p1@helpdesk.example",
        name,
        rendered.subject,
        rendered.text,
        "e-1:p-1:email",
        html=rendered.html,
        language=rendered.language,
    )
    parsed = message_from_bytes(
        build_message(mail, "helpdesk@helpdesk.example").as_bytes(), policy=policy.default
    )
    assert isinstance(parsed, EmailMessage)
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed["Subject"] == rendered.subject
    assert parsed["Content-Language"] == language
    assert parsed["To"].addresses[0].display_name == name
    plain, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert plain is not None and html is not None
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert plain.get_content_charset() == "utf-8" and html.get_content_charset() == "utf-8"
    assert plain.get_content() == rendered.text
    assert html.get_content() == rendered.html


def test_plain_message_without_html_stays_single_part_with_a_stable_id() -> None:
    mail = OutgoingEmail("a@helpdesk.example", "A", "s", "t", "e-1:ag-nika:email")
    message = build_message(mail, "helpdesk@helpdesk.example")
    assert message.get_content_type() == "text/plain"
    assert message["Content-Language"] == "en"
    assert message["Message-ID"] == build_message(mail, "helpdesk@helpdesk.example")["Message-ID"]
