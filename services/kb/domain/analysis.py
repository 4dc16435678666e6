"""Text analysis per language for the search index: fold letter forms, split into words that
keep their place in the original text, and stem them with the Snowball stemmers in tantivy.

The same analysis turns an article into index terms and a query into search terms, so a
Persian `كتاب` (Arabic kaf and yeh) finds `کتاب`, Greek `κωδικος` finds `Κωδικός`, and
Russian `паролей` finds `пароль`. Every term keeps the offsets of the word it came from in the
original text, so snippets show the author's own spelling with the matches marked.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

import tantivy

LANGUAGES = ("en", "fa", "ru", "el")
#: Snowball stemmers of tantivy by language; Persian has none (its affixes are split at ZWNJ).
STEMMERS = {"en": "english", "ru": "russian", "el": "greek"}
ZWNJ = "\u200c"
#: A character that is dropped inside a word (a diacritic, tatweel) becomes this placeholder
#: first, so the folded text keeps the length of the original and offsets stay valid.
_DROPPED = "\x00"
#: Combining accents typed apart from their letter, soft hyphen, ZWJ, Arabic harakat and tatweel.
_DROP = [*range(0x0300, 0x0370), 0x00AD, 0x200D, 0x0640, *range(0x064B, 0x0660), 0x0670]
_DROP += range(0x06D6, 0x06EE)
_ARABIC_FORMS = {
    "ي": "ی",  # Arabic yeh -> Persian yeh
    "ى": "ی",  # alef maksura
    "ئ": "ی",
    "ك": "ک",  # Arabic kaf -> Persian keheh
    "ة": "ه",  # teh marbuta
    "ۀ": "ه",  # heh with yeh above: the ezafe, written as plain heh as often
    "أ": "ا",
    "إ": "ا",
    "آ": "ا",
    "ٱ": "ا",
    "ؤ": "و",
}
_DIGITS = "۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩"
#: Letters whose accents are folded: Latin, Greek (tonos, dialytika), Cyrillic ё. The breve
#: stays: it makes Russian й a letter of its own (мой is not мои).
_FOLDED_BLOCKS = ((0x00C0, 0x024F), (0x0370, 0x03FF), (0x0400, 0x04FF), (0x1E00, 0x1FFF))
_BREVE = "\u0306"


def _fold_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for low, high in _FOLDED_BLOCKS:
        for code in range(low, high + 1):
            parts = unicodedata.normalize("NFD", chr(code))
            base = "".join(ch for ch in parts if not unicodedata.combining(ch))
            if len(parts) > 1 and len(base) == 1 and _BREVE not in parts:
                table[code] = base
    table.update({ord(a): b for a, b in _ARABIC_FORMS.items()})
    table.update({ord(d): str(i % 10) for i, d in enumerate(_DIGITS)})
    table.update(dict.fromkeys(_DROP, _DROPPED))
    table[ord("ς")] = "σ"
    return table


_FOLD = _fold_table()
_WORD = r"(?:[^\W_]|\x00)+"
_WORDS = re.compile(_WORD)
#: Words bound by ZWNJ or a hyphen (`می‌خواهم`, `Wi-Fi`) are also indexed joined (`میخواهم`,
#: `wifi`), so either spelling finds them.
_COMPOUND = re.compile(rf"{_WORD}(?:[-{ZWNJ}]{_WORD})+")


@dataclass(frozen=True, slots=True)
class Term:
    """One index or search term and the span of the original text it came from."""

    text: str
    start: int
    end: int
    position: int


def fold(text: str) -> str:
    """Letter forms, digits and accents unified; same length as `text`, so offsets carry over."""
    return text.translate(_FOLD)


@cache
def _stemmer(language: str) -> tantivy.TextAnalyzer | None:
    name = STEMMERS.get(language)
    if name is None:
        return None
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace())
        .filter(tantivy.Filter.stemmer(name))
        .build()
    )


Span = tuple[str, int, int, int]
_JOINERS = re.compile(f"[-{ZWNJ}]")


def spans(text: str, language: str) -> list[Span]:
    """The terms of `text` as (term, start, end, position), the form the index takes them in."""
    folded = fold(text)
    lowered = folded.lower()
    # Lower-casing keeps the length but for a few letters (İ); then words are lowered one by one.
    whole = len(lowered) == len(folded)
    source = lowered if whole else folded
    dropped = _DROPPED in folded
    found: list[Span] = []
    for position, match in enumerate(_WORDS.finditer(source)):
        word = match.group()
        if dropped:
            word = word.replace(_DROPPED, "")
        found.append((word if whole else word.lower(), match.start(), match.end(), position))
    if ZWNJ in folded or "-" in folded:
        first = {start: pos for _, start, _, pos in found}
        for match in _COMPOUND.finditer(source):
            joined = _JOINERS.sub("", match.group()).replace(_DROPPED, "")
            found.append((joined.lower(), match.start(), match.end(), first[match.start()]))
    if dropped:
        found = [span for span in found if span[0]]
    stemmer = _stemmer(language)
    if stemmer is None or not found:
        return found
    # One call for the whole text: the whitespace tokenizer keeps the words one to one.
    stems = stemmer.analyze(" ".join(span[0] for span in found))
    # The Greek stemmer leaves nothing of a few short words (όταν, έως); they are dropped.
    return [(stem, *span[1:]) for stem, span in zip(stems, found, strict=True) if stem]


def analyse(text: str, language: str) -> list[Term]:
    """The terms of `text` in `language`, in order, each with its span in `text`."""
    return [Term(*span) for span in spans(text, language)]


def query_terms(text: str, language: str) -> list[str]:
    """The distinct search terms of a query, in the order first written."""
    return list(dict.fromkeys(span[0] for span in spans(text, language)))


#: Of the languages searched, only one is written in each of these scripts.
_SCRIPTS = (("fa", 0x0600, 0x06FF), ("ru", 0x0400, 0x04FF), ("el", 0x0370, 0x03FF))


def script_language(text: str) -> str | None:
    """The language whose script most letters are in, when any is: `تنظیمات smtp در outlook`
    is Persian though half its words are Latin (a language model would call it English)."""
    counts = {
        language: sum(low <= ord(ch) <= high for ch in text) for language, low, high in _SCRIPTS
    }
    language, count = max(counts.items(), key=lambda item: item[1])
    return language if count else None
