"""The self-help offer mail: the customer's language, threading, titles that cannot forge lines."""

from __future__ import annotations

from email import message_from_bytes, policy
from typing import Any

from services.intake.self_help import build_self_help, offer_body, one_line, self_help_message_id
from shared.events import ArticleMatch, KbSelfHelpOffered

SENDER = "support@helpdesk.example"
LINK = "https://help.example/self-help/t-1?token=abc"


def offer(*titles: str, language: str = "en") -> KbSelfHelpOffered:
    return KbSelfHelpOffered(
        ticket_id="t-1",
        reference="HD-ABCDEF",
        language=language,
        category="network",
        articles=[
            ArticleMatch(article_id=f"a-{n}", title=title, language=language, score=1.0)
            for n, title in enumerate(titles)
        ],
        link=LINK,
    )


def ticket(**fields: Any) -> dict[str, Any]:
    return {
        "_id": "t-1",
        "reference": "HD-ABCDEF",
        "subject": "Wi-Fi keeps dropping",
        "reply_to": "ana@example.com",
        "language": "en",
        "last_message_id": "<q1@mail.example>",
        **fields,
    }


def test_the_subject_answers_the_ticket_and_carries_the_reference_once() -> None:
    message = build_self_help(offer("Restart your router"), ticket(), SENDER)
    assert message["Subject"] == "Re: Wi-Fi keeps dropping [#HD-ABCDEF]"
    already = build_self_help(offer("Restart"), ticket(subject="Re: Wi-Fi [#HD-ABCDEF]"), SENDER)
    assert already["Subject"] == "Re: Wi-Fi [#HD-ABCDEF]"


def test_the_mail_threads_on_the_last_message_with_a_stable_message_id() -> None:
    first = offer("Restart your router")
    message = build_self_help(first, ticket(), SENDER)
    assert message["In-Reply-To"] == message["References"] == "<q1@mail.example>"
    assert message["To"] == "ana@example.com"
    assert message["Message-ID"] == self_help_message_id(first, SENDER)
    assert message["Message-ID"].endswith("@helpdesk.example>")
    assert build_self_help(first, ticket(), SENDER)["Message-ID"] == message["Message-ID"]
    assert message["Auto-Submitted"] == "auto-replied"


def test_the_body_lists_every_title_and_the_link_and_says_what_to_do() -> None:
    body = build_self_help(
        offer("Restart your router", "Check the cables"), ticket(), SENDER
    ).get_content()
    assert "1. Restart your router\n2. Check the cables\n" in body
    assert LINK in body
    assert "this solved it" in body and "an agent is on it" in body
    assert "[#HD-ABCDEF]" in body


def test_a_persian_ticket_gets_persian_text_in_utf8() -> None:
    titles = ("راه\u200cاندازی دوبارهٔ مودم", "بررسی کابل‌ها")
    message = build_self_help(
        offer(*titles, language="fa"), ticket(language="fa", subject="اینترنت قطع است"), SENDER
    )
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    body = parsed.get_content()
    assert "درخواست شما را دریافت کردیم" in body and "مشکلم حل شد" in body
    assert f"1. {titles[0]}" in body and f"2. {titles[1]}" in body
    assert parsed["Subject"] == "Re: اینترنت قطع است [#HD-ABCDEF]"
    assert parsed["Content-Language"] == "fa"


def test_the_customers_language_comes_first_then_the_articles_then_english() -> None:
    russian_ticket = build_self_help(offer("Router", language="en"), ticket(language="ru"), SENDER)
    assert "Мы получили ваше обращение" in russian_ticket.get_content()
    unknown = build_self_help(offer("Ρούτερ", language="el"), ticket(language=None), SENDER)
    assert "Λάβαμε το αίτημά σας" in unknown.get_content()
    neither = build_self_help(offer("Router", language="de"), ticket(language="tr"), SENDER)
    assert "We have your request" in neither.get_content()


def test_line_breaks_in_titles_cannot_forge_headers_or_lines() -> None:
    forged = "Reset\r\nBcc: victim@example.com\r\n\r\nhttps://evil.example"
    message = build_self_help(offer(forged), ticket(), SENDER)
    raw = message.as_bytes()
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Bcc"] is None
    body = parsed.get_content()
    assert "1. Reset Bcc: victim@example.com https://evil.example\n" in body
    assert not any(line.startswith("https://evil") for line in body.splitlines())
    assert b"\r\nBcc:" not in raw and b"\nBcc:" not in raw


def test_a_subject_with_line_breaks_stays_one_header() -> None:
    message = build_self_help(offer("Reset"), ticket(subject="Help\r\nBcc: x@example.com"), SENDER)
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == "Re: Help Bcc: x@example.com [#HD-ABCDEF]"


def test_one_line_folds_control_characters_and_unicode_separators() -> None:
    assert one_line("a\r\n\tb\u2028c\x00d  e") == "a b c d e"


def test_an_empty_title_falls_back_to_the_article_id() -> None:
    assert "1. a-0\n" in offer_body(offer("\r\n"), "en", "HD-ABCDEF")
