"""Whether decoded text reads like the languages we expect or like a wrong charset's nonsense.

A charset guess on a short text is often wrong in a way no decoder notices: every byte maps to
some letter. Wrong readings have tell-tale words: letters of two scripts in one word ("Kцln"),
a script none of our languages uses (Chinese for a Russian mail), lower case followed by upper
case ("оЕФ", KOI8-R read as Windows-1251), words longer than any language's, Cyrillic or Greek
words without a vowel ("кблзмсб"), Latin words made only of accented letters ("Îøèáêà"), symbols
inside words ("Gr№▀e"). Words of plain ASCII letters read the same in every charset, so they
tell nothing and are not judged.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from itertools import pairwise

# Scripts by code point: (first, last, script).
_RANGES = (
    (0x00C0, 0x024F, "latin"),
    (0x1E00, 0x1EFF, "latin"),
    (0x0370, 0x03FF, "greek"),
    (0x1F00, 0x1FFF, "greek"),
    (0x0400, 0x052F, "cyrillic"),
    (0x0600, 0x06FF, "arabic"),
    (0x0750, 0x077F, "arabic"),
    (0x08A0, 0x08FF, "arabic"),
    (0xFB50, 0xFDFF, "arabic"),
    (0xFE70, 0xFEFF, "arabic"),
    (0x1100, 0x11FF, "cjk"),
    (0x3040, 0x30FF, "cjk"),
    (0x3130, 0x318F, "cjk"),
    (0x3400, 0x4DBF, "cjk"),
    (0x4E00, 0x9FFF, "cjk"),
    (0xAC00, 0xD7AF, "cjk"),
    (0xF900, 0xFAFF, "cjk"),
    (0xFF66, 0xFF9F, "cjk"),
)
SCRIPTS: dict[str, str] = {
    "en": "latin",
    "de": "latin",
    "fr": "latin",
    "es": "latin",
    "it": "latin",
    "nl": "latin",
    "ru": "cyrillic",
    "el": "greek",
    "fa": "arabic",
    "ar": "arabic",
    "zh": "cjk",
    "ja": "cjk",
    "ko": "cjk",
}
_VOWELS = {
    "cyrillic": frozenset("аеёиоуыэюяіїєАЕЁИОУЫЭЮЯІЇЄ"),
    "greek": frozenset("αεηιουωάέήίόύώϊϋΐΰΑΕΗΙΟΥΩΆΈΉΊΌΎΏ"),
}
_TOKEN = re.compile(r"\S+")
_LETTERS = re.compile(r"[^\W\d_]{2,}")
# Punctuation around a word, and signs that may sit inside one; any other non-ASCII symbol in a
# word ("Gr№▀e", Latin-1 read as CP866) is a wrong charset's.
_EDGE = "\"'()[]{}<>.,;:!?*«»“”„‘’‚‹›–—…¡¿،؛؟-"
_INSIDE = frozenset("№°€£¥×·’ʼ§©®™±½¼¾\u200c\u200d")
_LONGEST = 40  # characters: longer words are bytes read as letters, not language
_SAMPLE = 4_000  # characters judged: enough to tell, bounded in time
_ODD_SHARE = 1 / 3


def allowed_scripts(languages: Iterable[str], *, cjk: bool = False) -> frozenset[str]:
    """Scripts of the configured languages; Latin always (names, products), CJK when declared."""
    scripts = {"latin", *(SCRIPTS.get(code, "latin") for code in languages)}
    if cjk:
        scripts.add("cjk")
    return frozenset(scripts)


def _script(ch: str) -> str:
    point = ord(ch)
    if point < 0x80:
        return "ascii"
    for first, last, name in _RANGES:
        if first <= point <= last:
            return name
    return "other"


def _odd_word(word: str, allowed: frozenset[str]) -> bool:
    scripts = {_script(ch) for ch in word}
    foreign = scripts - {"ascii"}
    if len(foreign) > 1 or not foreign <= allowed:
        return True
    script = next(iter(foreign))
    if script == "cjk":
        return False
    if script == "latin" and "ascii" not in scripts and len(word) >= 3:
        return True  # "Îøèáêà": Cyrillic or Greek bytes read as Latin-1
    if any(a.islower() and b.isupper() for a, b in pairwise(word)):
        return True
    vowels = _VOWELS.get(script)
    if vowels is not None and len(word) >= 3 and not any(ch in vowels for ch in word):
        return True
    return script == "greek" and "ς" in word[:-1]  # final sigma only ends a word


def _odd(token: str, allowed: frozenset[str]) -> bool | None:
    """True for a word no language of ours writes, False for a fine one, None for plain ASCII."""
    core = token.strip(_EDGE)
    if core.isascii():
        return None
    if unicodedata.category(core[0])[0] == "M":
        return True  # a vowel sign or accent with no letter to sit on
    if len(core) > _LONGEST and not any(_script(ch) == "cjk" for ch in core):
        return True  # only Chinese and Japanese write sentences without spaces
    for ch in core:
        if ord(ch) >= 0x80 and not (ch.isalnum() or ch in _INSIDE or ch in _EDGE):
            if unicodedata.category(ch)[0] != "M":
                return True
    words = [w for w in _LETTERS.findall(core) if not w.isascii()]
    if not words:
        return None
    return any(_odd_word(word, allowed) for word in words)


def oddness(text: str, allowed: frozenset[str]) -> float:
    """Share of judged words that are odd (0.0 when no word can be judged)."""
    judged = odd = 0
    for token in _TOKEN.findall(text[:_SAMPLE]):
        verdict = _odd(token, allowed)
        if verdict is None:
            continue
        judged += 1
        odd += verdict
    return odd / judged if judged else 0.0


def plausible(text: str, allowed: frozenset[str]) -> bool:
    """Whether the text reads like one of the allowed scripts' languages."""
    return oddness(text, allowed) <= _ODD_SHARE
