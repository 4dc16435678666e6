"""Wording in agents' replies a lead should hear of: negative, dismissive or rude phrases, and
replies that only send the customer to the website. Phrases are matched as runs of whole
normalised words (a trailing `*` matches any ending), so `calm down` finds "Calm DOWN!" and
not "becalm downtown"."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from shared.text import terms

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)

Pattern = tuple[str, ...]


def _pattern(phrase: str) -> Pattern:
    words = phrase.split()
    pattern = [*terms(" ".join(w.rstrip("*") for w in words))]
    if words and words[-1].endswith("*") and pattern:
        pattern[-1] += "*"
    return tuple(pattern)


def _matches_at(words: Sequence[str], start: int, pattern: Pattern) -> bool:
    if start + len(pattern) > len(words):
        return False
    for word, expected in zip(words[start:], pattern, strict=False):
        if expected.endswith("*"):
            if not word.startswith(expected[:-1]):
                return False
        elif word != expected:
            return False
    return True


def find(words: Sequence[str], patterns: Iterable[tuple[str, Pattern]]) -> list[tuple[str, int]]:
    """Each phrase found, with the index of its first word."""
    found = []
    for phrase, pattern in patterns:
        for start in range(len(words)):
            if _matches_at(words, start, pattern):
                found.append((phrase, start))
                break
    return found


@dataclass(frozen=True)
class Phrases:
    """The phrase lists of every language, compiled."""

    negative: Mapping[str, tuple[tuple[str, Pattern], ...]]
    website: Mapping[str, tuple[tuple[str, Pattern], ...]]

    @classmethod
    def of(cls, lists: Mapping[str, tuple[Sequence[str], Sequence[str]]]) -> Phrases:
        def compiled(phrases: Sequence[str]) -> tuple[tuple[str, Pattern], ...]:
            return tuple((p, _pattern(p)) for p in phrases if _pattern(p))

        return cls(
            negative={lang: compiled(neg) for lang, (neg, _) in lists.items()},
            website={lang: compiled(web) for lang, (_, web) in lists.items()},
        )

    @staticmethod
    def lists_for(
        table: Mapping[str, tuple[tuple[str, Pattern], ...]], language: str | None
    ) -> list[tuple[str, Pattern]]:
        """The ticket's language's list; for a ticket of no known language, every list."""
        if language is not None and language in table:
            return list(table[language])
        return [p for patterns in table.values() for p in patterns]


@dataclass(frozen=True)
class Wording:
    negative: list[str]
    website_only: str | None


def judge(text: str, language: str | None, phrases: Phrases, max_words: int) -> Wording:
    """The negative phrases in a reply, and the website phrase if the reply does little else
    than point there (at most `max_words` words besides the phrase and its links)."""
    words = terms(text)
    negative = [p for p, _ in find(words, phrases.lists_for(phrases.negative, language))]
    website = find(words, phrases.lists_for(phrases.website, language))
    only = None
    if website:
        phrase, _ = website[0]
        rest = len(terms(_URL.sub(" ", text))) - len(_pattern(phrase))
        if rest <= max_words:
            only = phrase
    return Wording(negative=negative, website_only=only)
