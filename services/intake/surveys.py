"""The mail asking an email ticket's customer how satisfied they are, once it is resolved:
five one-click links, in the customer's language, threaded under the ticket."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from services.intake.replies import to_customer
from services.intake.self_help import one_line
from shared.events import SurveyOffered
from shared.ids import derived_id


@dataclass(frozen=True)
class SurveyText:
    intro: str
    scale: tuple[str, str, str, str, str]
    comment: str
    footer: str
    subject: str


TEXTS: dict[str, SurveyText] = {
    "en": SurveyText(
        "Your request is resolved. How satisfied are you with the help you received? "
        "One click answers:",
        ("Very unhappy", "Unhappy", "Neither", "Happy", "Very happy"),
        "The same page takes a comment, and lets you change your answer.",
        "Reference: [#{reference}].",
        "How did we do?",
    ),
    "fa": SurveyText(
        "درخواست شما حل شد. از کمکی که دریافت کردید چقدر راضی هستید؟ با یک کلیک پاسخ دهید:",
        ("بسیار ناراضی", "ناراضی", "نه راضی نه ناراضی", "راضی", "بسیار راضی"),
        "در همان صفحه می‌توانید نظر خود را بنویسید یا پاسخ خود را تغییر دهید.",
        "شمارهٔ پیگیری: [#{reference}].",
        "کار ما چطور بود؟",
    ),
    "ru": SurveyText(
        "Ваше обращение решено. Насколько вы довольны полученной помощью? Ответ — один щелчок:",
        ("Очень недоволен", "Недоволен", "Нейтрально", "Доволен", "Очень доволен"),
        "На той же странице можно оставить комментарий или изменить ответ.",
        "Номер обращения: [#{reference}].",
        "Как мы справились?",
    ),
    "el": SurveyText(
        "Το αίτημά σας επιλύθηκε. Πόσο ικανοποιημένοι είστε από τη βοήθεια που λάβατε; "
        "Απαντήστε με ένα κλικ:",
        ("Πολύ δυσαρεστημένος", "Δυσαρεστημένος", "Ουδέτερος", "Ικανοποιημένος",
         "Πολύ ικανοποιημένος"),
        "Στην ίδια σελίδα μπορείτε να γράψετε ένα σχόλιο ή να αλλάξετε την απάντησή σας.",
        "Αριθμός αιτήματος: [#{reference}].",
        "Πώς τα πήγαμε;",
    ),
}  # fmt: skip


def survey_language(offer: SurveyOffered, ticket: dict[str, Any]) -> str:
    for language in (offer.language, ticket.get("language")):
        if language in TEXTS:
            return str(language)
    return "en"


def survey_message_id(offer: SurveyOffered, sender: str) -> str:
    """Stable for the survey, so a redelivered offer could only ever send the same message."""
    domain = sender.rpartition("@")[2] or "helpdesk.invalid"
    return f"<{derived_id('survey-mail', offer.event_id)}@{domain}>"


def survey_body(offer: SurveyOffered, language: str, reference: str) -> str:
    text = TEXTS[language]
    link = one_line(offer.link)
    choices = [f"{n} - {label}: {link}?score={n}" for n, label in enumerate(text.scale, start=1)]
    return "\n".join(
        [
            text.intro,
            "",
            *choices,
            "",
            text.comment,
            "",
            "-- ",
            text.footer.format(reference=reference),
        ]
    )


def build_survey(offer: SurveyOffered, ticket: dict[str, Any], sender: str) -> EmailMessage:
    """The customer's survey, in reply to their last mail on the ticket."""
    language = survey_language(offer, ticket)
    reference = ticket.get("reference") or offer.reference or ""
    subject = one_line(ticket.get("subject") or "") or TEXTS[language].subject
    message = to_customer({**ticket, "reference": reference}, subject, sender,
                          survey_message_id(offer, sender))  # fmt: skip
    # Sent by no person (RFC 3834): the customer's autoresponder should stay quiet.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(survey_body(offer, language, reference), charset="utf-8")
    message["Content-Language"] = language
    return message
