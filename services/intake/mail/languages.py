"""What quote headers, forwards, signatures and disclaimers look like in each language we read
(English, Persian, Russian, Greek, and the German, French, Spanish, Italian and Dutch clients
customers use), compiled into patterns that each look at one bounded line."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class QuoteLanguage:
    """One language's phrases; regexes are matched against a single line (see `replies`)."""

    # A whole "On <date>, <name> wrote:" line. At most one unbounded `.*`/`.+` per pattern,
    # or an atomic group around the first: a line then costs linear time, never quadratic.
    wrote: str
    # Field names of an Outlook-style "From: / Sent: / To: / Subject:" block; the last one
    # given in `subject` is the one whose value can mark the block as a forward.
    headers: tuple[str, ...]
    subject: str
    original: tuple[str, ...]  # "-----Original Message-----"
    forwarded: tuple[str, ...]  # "---------- Forwarded message ---------"
    begin_forward: tuple[str, ...]  # Apple Mail's "Begin forwarded message:"
    forward_prefixes: tuple[str, ...]  # "Fwd:" and the like at the start of a subject
    signatures: tuple[str, ...]  # sign-offs that start a signature
    sent_from: tuple[str, ...]  # "Sent from my iPhone"
    disclaimers: tuple[str, ...]  # paragraphs that go with the signature


_ZW = "[\\s\u200c]?"  # Persian writes these compounds with a space, a ZWNJ or nothing

LANGUAGES: dict[str, QuoteLanguage] = {
    "en": QuoteLanguage(
        wrote=r"On\s.+wrote\s?:",
        headers=("From", "Sent", "To", "Subject", "Date", "Cc", "Bcc", "Organization"),
        subject="Subject",
        original=("Original Message",),
        forwarded=("Forwarded message", "Forwarded Message"),
        begin_forward=("Begin forwarded message",),
        forward_prefixes=("Fwd", "Fw"),
        signatures=(
            "Best regards",
            "Kind regards",
            "Thanks,",
            "Thank you,",
            "Best,",
            "All the best",
            "regards,",
        ),
        sent_from=("Sent from my", "Get Outlook for"),
        disclaimers=(
            "CAUTION:",
            "Disclaimer:",
            "Warning:",
            "Confidential:",
            "CONFIDENTIALITY:",
            r"(?:Privileged|Confidential|Private|Sensitive|Important) (?:Notice|Note|Information):",
        ),
    ),
    "de": QuoteLanguage(
        wrote=r"Am\s(?>.*?\sschrieb)(?:\s.*)?:",
        headers=("Von", "Gesendet", "An", "Betreff", "Datum", "Cc", "Organisation"),
        subject="Betreff",
        original=("Ursprüngliche Nachricht",),
        forwarded=("Weitergeleitete Nachricht",),
        begin_forward=("Anfang der weitergeleiteten Nachricht",),
        forward_prefixes=("WG",),
        signatures=("Mit freundlichen Grüßen", "Viele Grüße", "Beste Grüße", "Liebe Grüße"),
        sent_from=("Gesendet von",),
        disclaimers=("Wichtiger Hinweis:", "Hinweis:", "Achtung:"),
    ),
    "fr": QuoteLanguage(
        wrote=r"Le\s.+\sa\sécrit\s?:",
        headers=("De", "Envoyé", "À", "Objet", "Cc", "Date"),
        subject="Objet",
        original=("Message d'origine",),
        forwarded=("Message transféré",),
        begin_forward=("Début du message réexpédié",),
        forward_prefixes=("TR",),
        signatures=("Cordialement", "Salutations", "Bonne réception", "Bonne journée"),
        sent_from=("Envoyé depuis", "Envoyé de mon"),
        disclaimers=("Avertissement:",),
    ),
    "es": QuoteLanguage(
        wrote=r"El\s.+\sescribió\s?:",
        headers=("De", "Enviado", "Para", "Asunto", "Fecha", "CC", "Organización"),
        subject="Asunto",
        original=("Mensaje original",),
        forwarded=("Mensaje reenviado",),
        begin_forward=("Inicio del mensaje reenviado",),
        forward_prefixes=("RV",),
        signatures=("Saludos,", "Atentamente,", "Gracias,", "Un saludo,", "Cordialmente,"),
        sent_from=("Enviado desde mi",),
        disclaimers=("Aviso:", "Confidencialidad:", "Advertencia:"),
    ),
    "it": QuoteLanguage(
        wrote=r"Il\s.+\sha\sscritto\s?:",
        headers=("Da", "Inviato", "A", "Oggetto", "Data", "Cc"),
        subject="Oggetto",
        original=("Messaggio originale",),
        forwarded=("Messaggio inoltrato",),
        begin_forward=("Inizio messaggio inoltrato",),
        forward_prefixes=("I", "Inoltro"),
        signatures=("Cordiali saluti",),
        sent_from=("Inviato da",),
        disclaimers=(),
    ),
    "nl": QuoteLanguage(
        wrote=r"Op\s(?>.*?\sschreef)(?:\s.*)?:",
        headers=("Van", "Verzonden", "Aan", "Onderwerp", "Datum", "Cc"),
        subject="Onderwerp",
        original=("Oorspronkelijk bericht",),
        forwarded=("Doorgestuurd bericht",),
        begin_forward=("Begin doorgestuurd bericht",),
        forward_prefixes=("Doorst",),
        signatures=("Met vriendelijke groet", "Hartelijke groeten", "Bedankt,", "Dank u,"),
        sent_from=("Verzonden vanaf mijn",),
        disclaimers=("Waarschuwing:",),
    ),
    "ru": QuoteLanguage(
        # Apple Mail "написал(а):", Thunderbird "пишет:", Gmail "…2024 г. в 10:15, <addr>:".
        wrote=r".*(?:написал\(а\)|написала?|пишет)\s?:|(?>.*?г\.\sв\s\d{1,2}:\d{2},)\s.*:",
        headers=("От", "Отправлено", "Кому", "Тема", "Дата", "Копия"),
        subject="Тема",
        original=("Исходное сообщение",),
        forwarded=(
            "Пересылаемое сообщение",
            "Пересланное сообщение",
            "Перенаправленное сообщение",
        ),
        begin_forward=("Начало переадресованного сообщения",),
        forward_prefixes=("Пересл", "Пересылка"),
        signatures=("С уважением", "С наилучшими пожеланиями", "Всего доброго", "Спасибо,"),
        sent_from=("Отправлено с", "Отправлено из"),
        disclaimers=("Конфиденциально:", "Внимание:"),
    ),
    "el": QuoteLanguage(
        wrote=r".*(?:έγραψε|εγραψε)\s?:",
        headers=("Από", "Στάλθηκε", "Προς", "Θέμα", "Ημερομηνία", "Κοιν"),
        subject="Θέμα",
        original=("Αρχικό μήνυμα",),
        forwarded=("Προωθημένο μήνυμα",),
        begin_forward=("Αρχή προωθημένου μηνύματος",),
        forward_prefixes=("ΠΡΘ", "Προωθ"),
        signatures=("Με εκτίμηση", "Φιλικά", "Με φιλικούς χαιρετισμούς", "Ευχαριστώ,"),
        sent_from=("Στάλθηκε από",),
        disclaimers=("Εμπιστευτικό:", "Προσοχή:"),
    ),
    "fa": QuoteLanguage(
        wrote=r".*نوشت\s?:",
        headers=("از", f"ارسال{_ZW}شده", "به", "موضوع", "تاریخ", "رونوشت"),
        subject="موضوع",
        original=("پیام اصلی",),
        forwarded=(f"پیام هدایت{_ZW}شده", f"پیام بازارسال{_ZW}شده", f"پیام باز{_ZW}ارسال{_ZW}شده"),
        begin_forward=(f"شروع پیام هدایت{_ZW}شده",),
        forward_prefixes=("هدایت", "بازارسال"),
        signatures=("با احترام", "با سپاس", "با تشکر", "ارادتمند"),
        sent_from=(f"ارسال{_ZW}شده از",),
        disclaimers=("محرمانه:", "توجه:"),
    ),
}


def _alternatives(values: list[str]) -> str:
    # Longest first, so "Sent from my" is tried before "Sent".
    return "|".join(sorted(dict.fromkeys(values), key=len, reverse=True))


def _all(field: str) -> str:
    return _alternatives([v for lang in LANGUAGES.values() for v in getattr(lang, field)])


_FLAGS = re.IGNORECASE
# Each pattern is used with `fullmatch` or `match` on one line of bounded length.
WROTE = re.compile("|".join(f"(?:{lang.wrote})" for lang in LANGUAGES.values()), _FLAGS)
HEADER_LINE = re.compile(rf"[*\s]*(?P<name>{_all('headers')})[*\s]*:[*\s]*(?P<value>.*)", _FLAGS)
SUBJECT_NAMES = frozenset(lang.subject.casefold() for lang in LANGUAGES.values())
ORIGINAL = re.compile(rf"[-_]{{3,}}\s?(?:{_all('original')})\s?[-_]{{3,}}", _FLAGS)
FORWARD_MARKER = re.compile(
    rf"(?:-{{2,}}\s?(?:{_all('forwarded')})\s?-*|(?:{_all('begin_forward')})\s?:)", _FLAGS
)
FORWARD_SUBJECT = re.compile(
    rf"\s*(?:\[[^\]]{{0,40}}\]\s*)?(?:Fwd|Fw|{_all('forward_prefixes')})\.?\s?:", _FLAGS
)
SIGN_OFF = re.compile(_all("signatures"), _FLAGS)
SENT_FROM = re.compile(rf"(?:{_all('sent_from')})\s?[\w.<>:/ -]+", _FLAGS)
DISCLAIMER = re.compile(_all("disclaimers"), _FLAGS)
# A line of underscores or dashes: Outlook's separator above its header block.
RULE = re.compile(r"[_-]{20,}")
DASH_DASH = re.compile(r"[-_]{2}")
