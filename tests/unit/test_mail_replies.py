"""New text apart from quoted replies and signatures, in English, Russian, Greek and Persian."""

from __future__ import annotations

import pytest
from mailparser_reply.constants import MAIL_LANGUAGES

from services.intake.mail.languages import EXTRA_LANGUAGES
from services.intake.mail.replies import separate


def test_russian_greek_and_persian_join_the_parser_table_on_import() -> None:
    for code in ("ru", "el", "fa"):
        assert MAIL_LANGUAGES[code] is EXTRA_LANGUAGES[code]
        assert set(MAIL_LANGUAGES[code]) == set(MAIL_LANGUAGES["en"])


@pytest.mark.parametrize(
    ("body", "new", "quoted", "signature"),
    [
        (
            "Интернет не работает.\n\nС уважением,\nИван\n\n"
            "3 июня 2024 г., в 10:00, Поддержка <s@x.ru> написал(а):\n> Перезагрузите.\n",
            "Интернет не работает.",
            "Перезагрузите",
            "С уважением",
        ),
        (
            "Интернет не работает.\n\nОтправлено с iPhone\n\nОт: Поддержка <s@x.ru>\n"
            "Отправлено: 3 июня 2024 г. 10:00\nКому: Иван\nТема: Интернет\n\nСтарый ответ\n",
            "Интернет не работает.",
            "Старый ответ",
            "Отправлено с iPhone",
        ),
        (
            "Δεν λειτουργεί.\n\nΦιλικά,\nΝίκος\n\nΑπό: Υποστήριξη <s@x.gr>\n"
            "Στάλθηκε: Δευτέρα 3 Ιουνίου 2024\nΠρος: Νίκος\nΘέμα: Βλάβη\n\nΠαλιό μήνυμα\n",
            "Δεν λειτουργεί.",
            "Παλιό μήνυμα",
            "Φιλικά",
        ),
        (
            "مودم کار نمی\u200cکند.\n\nبا سپاس\nسارا\n\n"
            "در تاریخ ۳ ژوئن ۲۰۲۴، پشتیبانی <s@x.ir> نوشت:\n> مودم را خاموش کنید.\n",
            "مودم کار نمی\u200cکند.",
            "خاموش کنید",
            "با سپاس",
        ),
    ],
)
def test_quote_headers_and_signatures_in_other_languages(
    body: str, new: str, quoted: str, signature: str
) -> None:
    result = separate(body)
    assert result.new == new
    assert quoted in result.quoted
    assert signature in result.signature


def test_classic_angle_quoting_without_a_header_goes_to_quoted() -> None:
    result = separate("> did you restart it?\n> did you?\n\nYes, twice.\n")
    assert result.new == "Yes, twice."
    assert "did you restart it?" in result.quoted


def test_dash_dash_space_delimits_the_signature() -> None:
    result = separate("The VPN fails.\n\n-- \nAnn Smith\nACME\n")
    assert result.new == "The VPN fails."
    assert "Ann Smith" in result.signature


def test_hyphen_lists_stay_in_the_new_text() -> None:
    result = separate("Steps I tried:\n- restart\n- new cable\n")
    assert "- new cable" in result.new
    assert result.signature == ""


def test_a_text_that_opens_with_the_quote_has_no_new_text() -> None:
    result = separate("On Mon, 3 Jun 2024 at 10:00, Support <s@x.com> wrote:\n> old\n")
    assert result.new == ""
    assert "old" in result.quoted


def test_a_forward_pasted_into_the_body_is_new_text() -> None:
    body = (
        "Please check this.\n\n---------- Forwarded message ---------\nFrom: Bob <bob@x.com>\n"
        "Date: Mon, 3 Jun 2024\nSubject: Invoice\nTo: Ann\n\nThe invoice is wrong.\n"
    )
    result = separate(body)
    assert "Please check this." in result.new
    assert "The invoice is wrong." in result.new
    assert result.quoted == ""
