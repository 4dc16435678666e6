"""Text normalisation for matching in English, Persian, Russian and Greek; originals stay as is."""

from __future__ import annotations

import re
import unicodedata

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
