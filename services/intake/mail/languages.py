"""Russian, Greek and Persian reply headers and signatures, added to mail-parser-reply's table
(it knows English, German, French and others, not these) the first time this module is imported."""

from __future__ import annotations

from mailparser_reply.constants import MAIL_LANGUAGES, QUOTED_MATCH_INCLUDE

# Persian and Arabic clients put direction marks around the line; they are not whitespace.
_MARKS = "[\u200e\u200f\u202a-\u202e]*"


def _wrote(phrase: str) -> str:
    # "On <date>, <name> wrote:" in any language: the phrase ends a line of one or two lines.
    return rf"^({QUOTED_MATCH_INCLUDE}{_MARKS}(?:.+?\s?.+?)\s?(?:{phrase}){_MARKS}:?{_MARKS})$"


def _header_block(names: str) -> str:
    # Two or more Outlook-style "Name: value" lines in a row, as the 'en' entry.
    return (
        r"((?:(?:^|\n|\n"
        + QUOTED_MATCH_INCLUDE
        + rf")[* ]*{_MARKS}(?:{names}){_MARKS}:[ *]*(?:\s{{,2}}).*){{2,}}(?:\n.*){{,1}})"
    )


EXTRA_LANGUAGES: dict[str, dict[str, str | list[str]]] = {
    "ru": {
        # Apple Mail "написал(а):", Thunderbird "пишет:", Gmail ends "<addr>:" after "г. в 10:15,".
        "wrote_header": _wrote(r"написал\(а\):|написала?:|пишет:|г\. в \d{1,2}:\d{2}, .+:"),
        "from_header": _header_block("От|Отправлено|Кому|Тема|Дата|Копия"),
        "disclaimers": ["Конфиденциально:", "Внимание:"],
        "signatures": [
            "С уважением",
            "С наилучшими пожеланиями",
            "Всего доброго",
            "Спасибо,",
        ],
        "sent_from": "Отправлено с|Отправлено из",
    },
    "el": {
        "wrote_header": _wrote("έγραψε:|εγραψε:"),
        "from_header": _header_block("Από|Στάλθηκε|Προς|Θέμα|Ημερομηνία|Κοιν"),
        "disclaimers": ["Εμπιστευτικό:", "Προσοχή:"],
        "signatures": ["Με εκτίμηση", "Φιλικά", "Με φιλικούς χαιρετισμούς", "Ευχαριστώ,"],
        "sent_from": "Στάλθηκε από",
    },
    "fa": {
        "wrote_header": _wrote("نوشت:"),
        "from_header": _header_block("از|ارسال شده|به|موضوع|تاریخ|رونوشت"),
        "disclaimers": ["محرمانه:", "توجه:"],
        "signatures": ["با احترام", "با سپاس", "با تشکر", "ارادتمند"],
        "sent_from": "ارسال شده از",
    },
}

# Languages tried on every mail: a customer may write in one and quote another.
REPLY_LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "es", "it", "nl", "ru", "el", "fa")


def register() -> None:
    """Add the languages to mail-parser-reply's table; repeated calls change nothing."""
    for code, entry in EXTRA_LANGUAGES.items():
        MAIL_LANGUAGES.setdefault(code, entry)


register()
