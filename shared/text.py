"""Text normalisation for matching in English, Persian, Russian and Greek; originals stay as is."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["ZWNJ", "normalise", "normalise_persian", "terms"]

_PERSIAN_LETTERS = str.maketrans(
    {
        "ي": "ی",  # Arabic yeh -> Persian yeh
        "ى": "ی",  # alef maksura
        "ك": "ک",  # Arabic kaf -> Persian keheh
        "ة": "ه",
        "ۀ": "ه",
        "ـ": None,  # tatweel
    }
)
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
ZWNJ = "\u200c"
# The breve makes Russian й a letter of its own (мой is not мои); every other mark is folded.
_BREVE = "\u0306"


def normalise(text: str) -> str:
    """Fold case, unify Persian/Arabic letters and digits, drop diacritics (Greek tonos too).

    ZWNJ is turned into a word break for matching, so `می‌خواهم` matches `میخواهم` and `می خواهم`
    by its parts; the caller keeps the original text for display.
    """
    text = unicodedata.normalize("NFKC", text).translate(_PERSIAN_LETTERS).translate(_DIGITS)
    decomposed = unicodedata.normalize("NFD", text.casefold())
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn" or ch == _BREVE)
    return unicodedata.normalize("NFC", stripped).replace(ZWNJ, " ").replace("ё", "е")


def terms(text: str) -> list[str]:
    """The normalised words of a text."""
    return _WORD.findall(normalise(text))


# -- Persian matching form -------------------------------------------------------------------
# Unlike `normalise`, this keeps case, punctuation and words intact and repairs the ZWNJ
# (half-space) that binds Persian affixes, so `می‌خواهم` stays one word.
#
# ۀ (heh with yeh above) becomes plain ه. It only marks the ezafe, which after any other letter
# is a kasra (a diacritic we drop), and Persian keyboards type it as ه + U+0654 (hamza above),
# which no Unicode normal form composes into ۀ. Hazm's Normalizer leaves the precomposed ۀ
# alone but deletes U+0654 among its special characters, so its keyboard-typed ezafe ends as a
# bare ه; folding ۀ to ه as well makes both spellings of `خانۀ` equal to `خانه`, as Lucene's
# Persian normaliser and our own `normalise` already do. ة likewise becomes ه.
_PERSIAN_FORMS = {ord("ي"): "ی", ord("ى"): "ی", ord("ك"): "ک", ord("ة"): "ه", ord("ۀ"): "ه"}
_PERSIAN_FORMS.update({ord(a): str(i % 10) for i, a in enumerate("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩")})
_PERSIAN_MARKS: dict[int, str | None] = dict.fromkeys([*range(0x064B, 0x0660), 0x0670, 0x0640])
_PERSIAN_TABLE = str.maketrans({**_PERSIAN_FORMS, **_PERSIAN_MARKS})
_ARABIC_RANGES = ((0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF))
_ARABIC_LETTERS = frozenset(
    chr(cp)
    for low, high in _ARABIC_RANGES
    for cp in range(low, high + 1)
    if unicodedata.category(chr(cp)) == "Lo"
)
# Letters that never join the letter after them, so a ZWNJ after them changes nothing.
_NON_JOINING = frozenset("ءآأؤإاٱدذرزژو")
_LETTER_CLASS = "[" + "".join(sorted(_ARABIC_LETTERS)) + "]"
_TOKEN = re.compile(r"\S+")
_ZWNJ_RUN = re.compile(ZWNJ + "+")
# The typing errors `می خواهم` and `کتاب ها`: a space where the half-space belongs.
_PREFIX_GAP = re.compile(rf"(?<!\S)(ن?می) +(?={_LETTER_CLASS})")
_SUFFIX_GAP = re.compile(rf"(?<={_LETTER_CLASS}) +(هایی|های|ها|ترین|تر)(?![\w{ZWNJ}])")


def _joins_forward(ch: str) -> bool:
    return ch in _ARABIC_LETTERS and ch not in _NON_JOINING


def _keep_zwnj(match: re.Match[str]) -> str:
    text, start, end = match.string, match.start(), match.end()
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    return ZWNJ if _joins_forward(before) and after in _ARABIC_LETTERS else ""


def _repair_token(match: re.Match[str]) -> str:
    token = match.group()
    # Words in other scripts keep their format characters: ZWJ builds emoji and Indic conjuncts.
    if not any(ch in _ARABIC_LETTERS for ch in token):
        return token
    token = "".join(ch for ch in token if ch == ZWNJ or unicodedata.category(ch) != "Cf")
    return _ZWNJ_RUN.sub(_keep_zwnj, token)


def _join_suffix(match: re.Match[str]) -> str:
    before = match.string[match.start() - 1]
    return (ZWNJ if _joins_forward(before) else "") + match.group(1)


def normalise_persian(text: str) -> str:
    """The matching form of Persian text, keeping words as words (and the text NFC).

    Arabic yeh, kaf, teh marbuta and ۀ take their Persian forms, Persian and Arabic-Indic digits
    become ASCII, diacritics and tatweel go, and each ZWNJ is kept only between a joining letter
    and a letter, where it does something; `می خواهم` and `کتاب ها` get the half-space they
    lack. Words without Arabic letters (Latin, Cyrillic, Greek, emoji) are left as they are.
    """
    text = unicodedata.normalize("NFC", text).translate(_PERSIAN_TABLE)
    text = _TOKEN.sub(_repair_token, text)
    text = _PREFIX_GAP.sub(lambda match: match.group(1) + ZWNJ, text)
    text = _SUFFIX_GAP.sub(_join_suffix, text)
    # Dropping marks and format characters can leave a base and an accent side by side.
    return unicodedata.normalize("NFC", text)
