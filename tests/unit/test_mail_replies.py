"""New text apart from quoted replies and signatures, in English, Russian, Greek and Persian."""

from __future__ import annotations

import pytest

from services.intake.mail.languages import LANGUAGES
from services.intake.mail.replies import separate


def test_every_language_we_read_has_quote_forward_and_signature_phrases() -> None:
    assert {"en", "fa", "ru", "el"} <= set(LANGUAGES)
    for code, language in LANGUAGES.items():
        assert language.wrote and language.headers and language.forwarded, code
        assert language.subject in language.headers and language.signatures, code


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


FORWARDS = {
    "en": (
        "FW: Invoice",
        "________________________________\nFrom: Billing <b@vendor.example>\n"
        "Sent: Friday, May 31, 2024 4:02 PM\nTo: Bob\nSubject: Invoice 4711\n",
    ),
    "en-subject-line": (
        "Invoice",
        "From: Billing <b@vendor.example>\nSent: Friday, May 31, 2024\nTo: Bob\n"
        "Subject: FW: Invoice 4711\n",
    ),
    "ru": (
        "FW: Счёт",
        "От: Бухгалтерия <b@vendor.example>\nОтправлено: 31 мая 2024 г.\nКому: Иван\nТема: Счёт\n",
    ),
    "ru-gmail": (
        "Fwd: Счёт",
        "---------- Пересылаемое сообщение ---------\nОт: Бухгалтерия <b@vendor.example>\n"
        "Дата: пт, 31 мая 2024 г.\nТема: Счёт\n",
    ),
    "ru-apple": ("", "Начало переадресованного сообщения:\n\nОт: Бухгалтерия <b@vendor.example>\n"),
    "el": (
        "ΠΡΘ: Τιμολόγιο",
        "Από: Λογιστήριο <b@vendor.example>\nΣτάλθηκε: Παρασκευή 31 Μαΐου 2024\nΠρος: Νίκος\n"
        "Θέμα: Τιμολόγιο\n",
    ),
    "el-gmail": (
        "",
        "---------- Προωθημένο μήνυμα ---------\nΑπό: Λογιστήριο <b@vendor.example>\n",
    ),
    "fa-zwnj": ("", "---------- پیام هدایت\u200cشده ---------\nاز: حسابداری <b@vendor.example>\n"),
    "fa-outlook": (
        "FW: صورتحساب",
        "از: حسابداری <b@vendor.example>\nارسال\u200cشده: جمعه ۳۱ مه ۲۰۲۴\nبه: سارا\n"
        "موضوع: صورتحساب\n",
    ),
    "yahoo": ("", "----- Forwarded Message -----\nFrom: Billing <b@vendor.example>\n"),
    "apple": ("", "Begin forwarded message:\n\nFrom: Billing <b@vendor.example>\n"),
}


@pytest.mark.parametrize("name", sorted(FORWARDS))
def test_a_forwarded_message_is_new_text_under_the_customers_own_words(name: str) -> None:
    subject, header = FORWARDS[name]
    body = f"Please check this.\n\nKind regards,\nAnn\n\n{header}\nThe amount is 1200.\n"
    result = separate(body, subject)
    assert result.new.startswith("Please check this.")
    assert "The amount is 1200." in result.new
    assert header.splitlines()[-1] in result.new
    assert result.quoted == ""
    assert "Kind regards" in result.signature


def test_the_forwarded_messages_own_quote_stays_quoted() -> None:
    body = (
        "See below.\n\n---------- Forwarded message ---------\nFrom: Bob <bob@x.com>\n"
        "Subject: Invoice\n\nThe invoice is wrong.\n\nOn Mon, Ann <ann@x.com> wrote:\n> Is it?\n"
    )
    result = separate(body)
    assert "The invoice is wrong." in result.new and "Is it?" not in result.new
    assert "Is it?" in result.quoted


def test_an_outlook_block_is_a_reply_unless_the_subject_says_forward() -> None:
    body = (
        "Thanks.\n\nFrom: Support <s@x.com>\nSent: Monday\nTo: Ann\nSubject: RE: Invoice\n\nold\n"
    )
    assert separate(body, "RE: Invoice").quoted.endswith("old")
    assert "old" in separate(body, "FW: RE: Invoice").new
    assert "old" in separate(body, "RE: Invoice").quoted


@pytest.mark.parametrize(
    "header",
    [
        "On Mon, 3 Jun 2024 at 10:00, Support <s@x.com>\nwrote:",  # wrapped over two lines
        "> On Mon, 3 Jun 2024, Support <s@x.com> wrote:",  # inside a quote
        "\u200fدر تاریخ ۳ ژوئن ۲۰۲۴، پشتیبانی <s@x.ir> نوشت:\u200f",  # direction marks
        "пн, 3 июн. 2024 г. в 10:15, Support <s@x.ru>:",  # Gmail in Russian
        "-----Original Message-----",
    ],
)
def test_quote_headers_are_found_in_the_forms_clients_write(header: str) -> None:
    result = separate(f"Still broken.\n\n{header}\n> old text\n")
    assert result.new == "Still broken."
    assert "old text" in result.quoted


def test_a_line_longer_than_any_header_is_never_taken_for_one() -> None:
    line = "On Monday " + "word " * 200 + "wrote:"
    assert separate(f"{line}\n> quoted\n").new == line


def test_an_outlook_rule_above_a_signature_block_starts_the_signature() -> None:
    result = separate("The VPN fails.\n\n" + "_" * 32 + "\nACME Ltd, legal notice\n")
    assert result.new == "The VPN fails."
    assert "ACME Ltd" in result.signature


@pytest.mark.parametrize("window", [200, 1_000, 10_000])
def test_text_beyond_the_window_is_split_as_a_whole_reading_would(window: int) -> None:
    """Past the window the text is not read line by line: after a quote header it is quoted,
    otherwise its '>' lines are quoted and the rest is new, as a whole reading gives."""
    body = "\n".join(f"Line {i} of what the customer writes." for i in range(400))
    after_header = f"{body}\n\nOn Mon, 1 Jun 2026, Support wrote:\n" + "> old\nold too\n" * 300
    no_header = body + "\n" + "> quoted\nnew again\n" * 300
    whole, windowed = separate(no_header), separate(no_header, window=window)
    assert windowed.quoted.split() == whole.quoted.split()
    assert windowed.new.split() == whole.new.split()
    cut = separate(after_header, window=window)
    if window > len(body) + 40:
        assert cut == separate(after_header)
    else:  # the header lies beyond the window: its line and what follows stay unquoted text
        assert "Line 399" in cut.new and "> old" not in cut.new and "> old" in cut.quoted
