"""Keyword and pattern rules in English, Persian, Russian and Greek, matched on folded words."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from shared.text import normalise, terms

__all__ = [
    "LANGUAGES",
    "KeywordRules",
    "Language",
    "Phrase",
    "Span",
    "TicketText",
    "fold_keyword",
]

Language = Literal["en", "fa", "ru", "el"]
LANGUAGES: tuple[Language, ...] = ("en", "fa", "ru", "el")
_MIN_STEM = 3

#: One folded word of a keyword, and whether it is a stem (`парол*` meets пароля, паролем).
Word = tuple[str, bool]
Phrase = tuple[Word, ...]
#: Where a phrase occurs in a ticket: from its first word up to, not including, the word after.
Span = tuple[int, int]


def fold_keyword(keyword: str) -> Phrase:
    """A keyword folded the way ticket text is (`shared.text.terms`); a trailing `*` makes a stem.

    `Wi-Fi` folds to the two words `wi fi`, `رمز‌عبور` (with its half-space) to `رمز عبور`, and
    `Κωδικός` to `κωδικοσ`, exactly as they fold in a ticket, so they meet there.
    """
    words: list[Word] = []
    for part in keyword.split():
        folded = terms(part.rstrip("*"))
        if folded:
            words.extend((term, False) for term in folded[:-1])
            words.append((folded[-1], part.endswith("*")))
    return tuple(words)


class TicketText:
    """A ticket's folded words, indexed by word so a few hundred keywords are checked quickly."""

    def __init__(self, text: str) -> None:
        self.normalised = normalise(text)
        self.words = terms(text)
        self._positions: dict[str, list[int]] = {}
        for position, word in enumerate(self.words):
            self._positions.setdefault(word, []).append(position)

    def spans(self, phrase: Phrase) -> list[Span]:
        """Where the words of the phrase occur one after another (a stem meets any ending)."""
        (first, stem), rest = phrase[0], phrase[1:]
        if stem:
            starts = [p for w, ps in self._positions.items() if w.startswith(first) for p in ps]
        else:
            starts = self._positions.get(first, [])
        return [(s, s + len(phrase)) for s in sorted(starts) if self._continues(s + 1, rest)]

    def _continues(self, position: int, rest: Phrase) -> bool:
        if position + len(rest) > len(self.words):
            return False
        following = self.words[position : position + len(rest)]
        return all(
            word == term or (stem and word.startswith(term))
            for word, (term, stem) in zip(following, rest, strict=True)
        )


class KeywordRules(BaseModel):
    """Keywords (words or phrases) and regular expressions, listed per language."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    keywords: dict[Language, list[str]] = Field(default_factory=dict)
    #: Searched in the normalised text (lower case, no accents), so they are written that way.
    patterns: dict[Language, list[str]] = Field(default_factory=dict)
    _phrases: dict[Language, dict[Phrase, str]] = PrivateAttr(default_factory=dict)
    _regexes: dict[Language, list[re.Pattern[str]]] = PrivateAttr(default_factory=dict)

    @field_validator("keywords")
    @classmethod
    def _check_keywords(cls, value: dict[Language, list[str]]) -> dict[Language, list[str]]:
        for language, keywords in value.items():
            for keyword in keywords:
                phrase = fold_keyword(keyword)
                if not phrase:
                    raise ValueError(f"{language} keyword {keyword!r} has no letters or digits")
                if any(stem and len(term) < _MIN_STEM for term, stem in phrase):
                    raise ValueError(
                        f"{language} keyword {keyword!r}: a stem needs {_MIN_STEM} letters or more"
                    )
        return value

    @field_validator("patterns")
    @classmethod
    def _check_patterns(cls, value: dict[Language, list[str]]) -> dict[Language, list[str]]:
        for language, patterns in value.items():
            for pattern in patterns:
                try:
                    regex = re.compile(pattern)
                except re.error as exc:
                    raise ValueError(
                        f"{language} pattern {pattern!r} is not a regex: {exc}"
                    ) from exc
                if regex.search("") is not None:
                    raise ValueError(f"{language} pattern {pattern!r} matches empty text")
        return value

    def model_post_init(self, context: Any, /) -> None:
        for language, keywords in self.keywords.items():
            self._phrases[language] = {fold_keyword(k): k for k in keywords}
        for language, patterns in self.patterns.items():
            self._regexes[language] = [re.compile(p) for p in patterns]

    def evidence(self, text: TicketText, languages: Iterable[Language]) -> dict[object, str]:
        """The distinct hits in the text, each keyed by what was matched and shown as written.

        A keyword listed in several languages (wifi, vpn) folds to one phrase and counts once,
        named in the first language searched; a keyword found only inside a longer one
        (`δύο φορές` in `χρεώθηκα δύο φορές`) is not a hit of its own.
        """
        found: dict[object, str] = {}
        spans: dict[object, list[Span]] = {}
        for language in languages:
            for phrase, keyword in self._phrases.get(language, {}).items():
                if phrase not in found and (where := text.spans(phrase)):
                    found[phrase], spans[phrase] = keyword, where
            for regex in self._regexes.get(language, []):
                if regex.pattern not in found and (match := regex.search(text.normalised)):
                    found[regex.pattern] = match.group().strip() or regex.pattern
        covered = {key for key, where in spans.items() if _inside_others(where, key, spans)}
        return {key: shown for key, shown in found.items() if key not in covered}


def _inside_others(where: list[Span], key: object, spans: dict[object, list[Span]]) -> bool:
    """Whether every occurrence lies within a longer occurrence of another keyword."""
    longer = [
        (start, end) for other, others in spans.items() if other != key for start, end in others
    ]
    return all(
        any(start <= s and e <= end and end - start > e - s for start, end in longer)
        for s, e in where
    )
