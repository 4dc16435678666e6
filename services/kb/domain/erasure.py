"""The right to erasure in the knowledge base: which search-log entries name an erased person,
and what becomes of the articles drafted from their tickets."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import phonenumbers

from services.kb.domain.articles import Article
from services.kb.domain.reports import query_key

#: The kinds of identity `customer.erased` carries, written `kind:value`.
KINDS = ("email", "phone", "chat", "name")
#: What people type between the digits of a phone number.
_SEPARATORS = r"[\s().\-/]*"
#: Shorter digit runs match too much that is not the number (years, amounts, ticket counts).
_MIN_DIGITS = 6


def identity_values(identities: Iterable[str]) -> list[tuple[str, str]]:
    """(kind, value) of each identity; one without a known `kind:` prefix is a name."""
    found: list[tuple[str, str]] = []
    for identity in identities:
        kind, sep, value = identity.partition(":")
        if not sep or kind not in KINDS:
            kind, value = "name", identity
        if value.strip():
            found.append((kind, value.strip()))
    return found


def _digits(digits: str) -> str:
    return _SEPARATORS.join(re.escape(d) for d in digits)


def phone_patterns(number: str) -> list[str]:
    """The number as written with or without its country code, with any spacing, dashes or
    brackets between its digits (`+30 210 123 4567`, `(210) 123-4567`, `2101234567`)."""
    runs = {"".join(ch for ch in number if ch.isdigit())}
    try:
        runs.add(phonenumbers.national_significant_number(phonenumbers.parse(number)))
    except phonenumbers.NumberParseException:
        pass
    return [_digits(run) for run in sorted(runs) if len(run) >= _MIN_DIGITS]


def search_patterns(identities: Iterable[str]) -> list[str]:
    """Regular expressions that find the person in a search's `key` (its query folded by
    `query_key`: lower case, letter forms and digits unified, spacing collapsed)."""
    patterns: list[str] = []
    for kind, value in identity_values(identities):
        if kind == "phone":
            patterns.extend(phone_patterns(value))
        key = query_key(value)
        if key:
            patterns.append(re.escape(key))
    return list(dict.fromkeys(patterns))


def names_the_person(key: str, patterns: Sequence[str]) -> bool:
    """Does a search (its `key`) contain any of the person's identities?"""
    return any(re.search(pattern, key) for pattern in patterns)


@dataclass(frozen=True)
class Drafted:
    """What erasure does to the articles drafted from the person's tickets: drafts nobody
    published go with their versions; the others keep the text an editor published and lose
    the link to the ticket (and the version the knowledge base drafted from it)."""

    delete: tuple[str, ...]
    unlink: tuple[str, ...]


def drafted(articles: Iterable[Article]) -> Drafted:
    articles = list(articles)
    return Drafted(
        delete=tuple(a.article_id for a in articles if a.status == "draft"),
        unlink=tuple(a.article_id for a in articles if a.status != "draft"),
    )
