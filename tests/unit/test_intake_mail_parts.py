"""An email's new text, quoted earlier mail and signature reach the ticket events apart, in the
shapes Gmail, Outlook, Apple Mail, Thunderbird and Yandex write them in en, fa, ru and el; a
closing alone is no signature, and no line of the mail is ever lost."""

from __future__ import annotations

from collections import Counter

import pytest

from services.intake.domain import Facts, join_ticket, open_ticket
from services.intake.domain.contacts import email_parts
from shared.events import ContactReceived, EmailMessage, TicketContactAppended, TicketOpened

FACTS = Facts(customer_id="cu-1", plan="standard", language=None)
TICKET = {"_id": "t-1", "status": "open", "contact_id": "c-0"}

# (client, body, new text, a piece of the quoted part, a piece of the signature)
MAILS = [
    (
        "gmail en",
        "The invoice is still wrong.\n\nOn Mon, 3 Nov 2026 at 10:15, Help desk "
        "<support@helpdesk.example> wrote:\n> Please check the attached invoice.\n> Thanks",
        "The invoice is still wrong.",
        "Please check the attached invoice.",
        "",
    ),
    (
        "outlook en",
        "Still broken after the restart.\n\n-----Original Message-----\nFrom: Help desk\n"
        "Sent: Monday, November 3, 2026 10:15 AM\nTo: Ana\nSubject: RE: Wifi\n\nRestart it.",
        "Still broken after the restart.",
        "Restart it.",
        "",
    ),
    (
        "outlook block en",
        "It works now.\n\nFrom: Help desk <support@helpdesk.example>\nSent: Monday, 3 November "
        "2026 10:15\nTo: Ana <ana@example.com>\nSubject: RE: Wifi\n\nDid the restart help?",
        "It works now.",
        "Did the restart help?",
        "",
    ),
    (
        "apple mail en",
        "Yes, the light is green.\n\nSent from my iPhone\n\n> On 3 Nov 2026, at 10:15, Help "
        "desk <support@helpdesk.example> wrote:\n>\n> Is the light green?",
        "Yes, the light is green.",
        "Is the light green?",
        "Sent from my iPhone",
    ),
    (
        "thunderbird en",
        "The modem is an X200.\n\n-- \nAna Silva\nACME Ltd\n\nOn 03/11/2026 10:15, Help desk "
        "wrote:\n> Which modem do you have?",
        "The modem is an X200.",
        "Which modem do you have?",
        "Ana Silva",
    ),
    (
        "gmail fa",
        "هنوز اینترنت قطع است.\n\nدر تاریخ دوشنبه ۱۲ آبان ۱۴۰۵، پشتیبانی نوشت:\n> لطفا مودم را "
        "خاموش و روشن کنید.",
        "هنوز اینترنت قطع است.",
        "لطفا مودم را",
        "",
    ),
    (
        "mobile fa",
        "مودم را عوض کردم.\n\nارسال شده از آیفون من\n\n> پشتیبانی نوشت:\n> مودم شما چیست؟",
        "مودم را عوض کردم.",
        "مودم شما چیست؟",
        "ارسال شده از آیفون من",
    ),
    (
        "apple mail ru",
        "Интернета всё ещё нет.\n\n3 нояб. 2026 г., в 10:15, Служба поддержки написал(а):\n\n"
        "> Перезагрузите роутер, пожалуйста.",
        "Интернета всё ещё нет.",
        "Перезагрузите роутер",
        "",
    ),
    (
        "yandex ru",
        "Роутер перезагрузил, не помогло.\n\n-- \nОтправлено из мобильной Яндекс Почты\n\n"
        '03.11.2026, 10:15, "Служба поддержки" <support@helpdesk.example>:\n'
        "> Перезагрузите роутер.",
        "Роутер перезагрузил, не помогло.",
        "Перезагрузите роутер.",
        "Отправлено из мобильной",
    ),
    (
        "thunderbird ru",
        "Модель TP-Link.\n\n03.11.2026 10:15, Служба поддержки пишет:\n> Какая у вас модель?",
        "Модель TP-Link.",
        "Какая у вас модель?",
        "",
    ),
    (
        "gmail el",
        "Το πρόβλημα παραμένει.\n\nΣτις Δευ 3 Νοε 2026 στις 10:15, ο/η Υποστήριξη έγραψε:\n"
        "> Δοκιμάστε επανεκκίνηση.",
        "Το πρόβλημα παραμένει.",
        "Δοκιμάστε επανεκκίνηση.",
        "",
    ),
    (
        "mobile el",
        "Έκανα επανεκκίνηση.\n\nΣτάλθηκε από το iPhone μου\n\n> Υποστήριξη Έγραψε:\n"
        "> Κάνατε επανεκκίνηση;",
        "Έκανα επανεκκίνηση.",
        "Κάνατε επανεκκίνηση;",
        "Στάλθηκε από το iPhone μου",
    ),
]

# A closing alone is the customer's text: it stays in the body.
CLOSINGS = [
    "Thanks, the reset worked but the invoice is still wrong.\nAna",
    "Best regards,\nAna",
    "С уважением,\nАнна",
    "Με εκτίμηση,\nΆννα",
    "با احترام،\nآنا",
]


def _contact(body: str, **message: str) -> ContactReceived:
    return ContactReceived(
        contact_id="c-1",
        message=EmailMessage(
            channel="email", from_address="ana@example.com", subject="Wifi", body=body, **message
        ),
    )


def _lines(*texts: str) -> Counter[str]:
    return Counter(line.strip() for t in texts for line in t.splitlines() if line.strip())


@pytest.mark.parametrize(("client", "body", "new", "quoted", "signature"), MAILS)
def test_a_reply_is_split_into_new_text_quote_and_signature_on_both_events(
    client: str, body: str, new: str, quoted: str, signature: str
) -> None:
    opened = open_ticket(_contact(body), FACTS).events[0]
    joined = join_ticket(_contact(body), TICKET, FACTS, "reference", reopen=False).events[-1]
    for event in (opened, joined):
        assert isinstance(event, TicketOpened | TicketContactAppended)
        assert event.body == new, client
        assert quoted in event.quoted_text, client
        assert signature in event.signature, client
        assert not signature or signature not in event.body, client
        missing = _lines(body) - _lines(event.body, event.quoted_text, event.signature)
        assert not missing, (client, missing)


@pytest.mark.parametrize("body", CLOSINGS)
def test_a_closing_alone_stays_in_the_body(body: str) -> None:
    event = open_ticket(_contact(body), FACTS).events[0]
    assert isinstance(event, TicketOpened)
    assert event.body == body and event.signature == "" and event.quoted_text == ""


def test_a_mail_the_gateway_split_keeps_its_parts() -> None:
    contact = _contact("New text", quoted_text="> old", signature="Ana\nACME")
    assert email_parts(contact.message) == ("New text", "> old", "Ana\nACME")  # type: ignore[arg-type]


def test_a_mail_that_is_all_quote_keeps_it_in_the_body() -> None:
    body = "On Mon, 3 Nov 2026, Help desk wrote:\n> Did it help?"
    event = open_ticket(_contact(body), FACTS).events[0]
    assert isinstance(event, TicketOpened)
    assert event.body == body and event.quoted_text == ""


def test_the_match_text_holds_only_the_new_text() -> None:
    body = "Printer jam.\n\nOn Mon, 3 Nov 2026, Help desk wrote:\n> Is it the wifi?"
    event = open_ticket(_contact(body), FACTS).events[0]
    assert isinstance(event, TicketOpened)
    assert "wifi" not in event.match_text and "Printer jam." in event.match_text
