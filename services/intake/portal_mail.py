"""The mail that carries a portal sign-in link, in the customer's language."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

from services.intake.replies import LOOP_HEADER

#: Subject and text per language; `{link}` and `{minutes}` are filled in.
TEXTS: dict[str, tuple[str, str]] = {
    "en": (
        "Your sign-in link",
        "Open this link to see your requests and write to us:\n\n{link}\n\n"
        "It works once, for {minutes} minutes. If you did not ask for it, ignore this mail.",
    ),
    "fa": (
        "پیوند ورود شما",
        "برای دیدن درخواست‌هایتان و نوشتن به ما این پیوند را باز کنید:\n\n{link}\n\n"
        "این پیوند یک بار و تا {minutes} دقیقه کار می‌کند. اگر آن را نخواسته‌اید، این نامه را "
        "نادیده بگیرید.",
    ),
    "ru": (
        "Ссылка для входа",
        "Откройте ссылку, чтобы увидеть свои обращения и написать нам:\n\n{link}\n\n"
        "Она работает один раз, {minutes} минут. Если вы её не запрашивали, просто "
        "проигнорируйте это письмо.",
    ),
    "el": (
        "Ο σύνδεσμος σύνδεσής σας",
        "Ανοίξτε αυτόν τον σύνδεσμο για να δείτε τα αιτήματά σας και να μας γράψετε:\n\n"
        "{link}\n\nΛειτουργεί μία φορά, για {minutes} λεπτά. Αν δεν τον ζητήσατε, αγνοήστε "
        "αυτό το μήνυμα.",
    ),
}


def sign_in_mail(
    to: str, link: str, minutes: int, language: str | None, sender: str
) -> EmailMessage:
    """The sign-in mail; marked automatic, so no auto-reply answers it back to intake."""
    subject, text = TEXTS.get(language or "en", TEXTS["en"])
    message = EmailMessage()
    message["From"] = formataddr(("Help desk", sender))
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "helpdesk.invalid")
    message["Auto-Submitted"] = "auto-generated"
    message[LOOP_HEADER] = "portal-sign-in"
    if language in TEXTS:
        message["Content-Language"] = language
    message.set_content(text.format(link=link, minutes=minutes), charset="utf-8")
    return message
