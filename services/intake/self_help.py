"""The mail offering a new ticket's customer the articles that may already solve it, threaded
like an agent's reply and written in the customer's language."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from services.intake.replies import to_customer
from shared.events import KbSelfHelpOffered
from shared.ids import derived_id

# Line breaks and other control characters: a title or link carrying them could forge lines
# of the mail (a fake link, a fake reference) or, in a header, new headers.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


@dataclass(frozen=True)
class OfferText:
    """The sentences of the offer in one language; `{reference}` goes into the footer."""

    intro: str
    solved: str
    otherwise: str
    footer: str
    subject: str


TEXTS: dict[str, OfferText] = {
    "en": OfferText(
        intro="We have your request. These articles may already answer it:",
        solved="If one of these solves it, answer \u201cthis solved it\u201d on this page, "
        "and we will close your request:",
        otherwise="Otherwise an agent is on it; you need do nothing.",
        footer="Reference: [#{reference}]. Please keep it in the subject when you reply.",
        subject="Your request",
    ),
    "fa": OfferText(
        intro="درخواست شما را دریافت کردیم. شاید این مقاله‌ها همین حالا پاسخ آن باشند:",
        solved="اگر یکی از آن‌ها مشکل را حل کرد، در این صفحه «مشکلم حل شد» را بزنید "
        "تا درخواست شما را ببندیم:",
        otherwise="در غیر این صورت، یکی از همکاران ما در حال بررسی آن است و لازم نیست کاری کنید.",
        footer="شمارهٔ پیگیری: [#{reference}]. لطفاً هنگام پاسخ آن را در موضوع نامه نگه دارید.",
        subject="درخواست شما",
    ),
    "ru": OfferText(
        intro="Мы получили ваше обращение. Возможно, ответ уже есть в этих статьях:",
        solved="Если одна из них решила проблему, ответьте «Это помогло» на этой странице, "
        "и мы закроем обращение:",
        otherwise="Если нет, специалист уже занимается им; ничего делать не нужно.",
        footer="Номер обращения: [#{reference}]. Пожалуйста, сохраните его в теме при ответе.",
        subject="Ваше обращение",
    ),
    "el": OfferText(
        intro="Λάβαμε το αίτημά σας. Αυτά τα άρθρα ίσως το απαντούν ήδη:",
        solved="Αν κάποιο από αυτά λύνει το πρόβλημα, απαντήστε «Αυτό το έλυσε» σε αυτή "
        "τη σελίδα και θα κλείσουμε το αίτημά σας:",
        otherwise="Διαφορετικά, ένας συνάδελφός μας ασχολείται ήδη· δεν χρειάζεται να κάνετε "
        "τίποτα.",
        footer="Αριθμός αιτήματος: [#{reference}]. Κρατήστε τον στο θέμα όταν απαντάτε.",
        subject="Το αίτημά σας",
    ),
}


def one_line(text: str) -> str:
    """Customer-visible text on one line: control characters become single spaces."""
    return " ".join(_CONTROL.sub(" ", text).split())


def offer_language(offer: KbSelfHelpOffered, ticket: dict[str, Any]) -> str:
    """The customer's language when we have its sentences, else the articles', else English."""
    for language in (ticket.get("language"), offer.language):
        if language in TEXTS:
            return str(language)
    return "en"


def self_help_message_id(offer: KbSelfHelpOffered, sender: str) -> str:
    """Stable for the offer, so a redelivered offer could only ever send the same message."""
    domain = sender.rpartition("@")[2] or "helpdesk.invalid"
    return f"<{derived_id('self-help-mail', offer.event_id)}@{domain}>"


def offer_body(offer: KbSelfHelpOffered, language: str, reference: str) -> str:
    """Plain text: the titles numbered, the link, what to do on that page, the reference."""
    text = TEXTS.get(language, TEXTS["en"])
    titles = [
        f"{n}. {one_line(article.title) or article.article_id}"
        for n, article in enumerate(offer.articles, start=1)
    ]
    return "\n".join(
        [
            text.intro,
            "",
            *titles,
            "",
            text.solved,
            one_line(offer.link),
            "",
            text.otherwise,
            "",
            "-- ",
            text.footer.format(reference=reference),
        ]
    )


def build_self_help(offer: KbSelfHelpOffered, ticket: dict[str, Any], sender: str) -> EmailMessage:
    """The customer's copy of the offer, in reply to their last mail on the ticket."""
    language = offer_language(offer, ticket)
    reference = ticket.get("reference") or offer.reference
    subject = one_line(ticket.get("subject") or "") or TEXTS[language].subject
    addressed = {**ticket, "reference": reference}
    message = to_customer(addressed, subject, sender, self_help_message_id(offer, sender))
    # Sent by no person, in answer to the customer's mail (RFC 3834): their autoresponder
    # should stay quiet.
    message["Auto-Submitted"] = "auto-replied"
    message.set_content(offer_body(offer, language, reference), charset="utf-8")
    # After the content: setting it clears every Content-* header.
    message["Content-Language"] = language
    return message
