"""Highlighted snippets: the part of an article where a search matched, as safe HTML.

Matches are found with the index's own analysis (`analysis.analyse`), so a word marked in the
snippet is one the search matched, in the author's spelling. Every piece of article text is
HTML-escaped; the only markup is the `<mark>` around matches.
"""

from __future__ import annotations

from collections.abc import Collection
from html import escape

from rapidfuzz.distance import OSA

from services.kb.domain.analysis import Term, analyse

ELLIPSIS = "…"


def within(a: str, b: str, distance: int) -> bool:
    """Are `a` and `b` at most `distance` edits apart? A swap of neighbours is one edit, as
    in the index's fuzzy queries (optimal string alignment)."""
    return bool(OSA.distance(a, b, score_cutoff=distance) <= distance)


def fuzzy_distance(term: str) -> int:
    """Typos forgiven in a query term: none below 4 letters, one up to 7, two from 8."""
    return 0 if len(term) < 4 else 1 if len(term) < 8 else 2


def matches(terms: list[Term], exact: Collection[str], fuzzy: Collection[str]) -> list[Term]:
    """The terms of a text that a search for `exact` (and `fuzzy`, with typos) matched."""
    near = [(f, d) for f in fuzzy if (d := fuzzy_distance(f))]
    # A body repeats its words: each distinct word is judged once.
    verdicts: dict[str, bool] = {}
    found = []
    for term in terms:
        verdict = verdicts.get(term.text)
        if verdict is None:
            verdict = term.text in exact or any(within(term.text, f, d) for f, d in near)
            verdicts[term.text] = verdict
        if verdict:
            found.append(term)
    return found


def _best_window(marked: list[Term], size: int) -> tuple[int, int]:
    """The span of at most `size` characters holding the most distinct matched words."""
    best, best_count = (marked[0].start, marked[0].start + size), 0
    for i, first in enumerate(marked):
        words = {t.text for t in marked[i:] if t.end <= first.start + size}
        if len(words) > best_count:
            best, best_count = (first.start, first.start + size), len(words)
    return best


def snippet(
    text: str,
    language: str,
    exact: Collection[str],
    fuzzy: Collection[str] = (),
    *,
    size: int = 200,
) -> str:
    """An escaped excerpt of `text` of about `size` characters, matches in `<mark>`."""
    marked = matches(analyse(text, language), exact, fuzzy)
    if not marked:
        cut = text[:size]
        return escape(cut) + (ELLIPSIS if len(text) > size else "")
    # Joined compounds (`wifi` from `Wi-Fi`) overlap their parts: mark each span once.
    spans: list[tuple[int, int]] = []
    for term in sorted(marked, key=lambda t: (t.start, -t.end)):
        if spans and term.start < spans[-1][1]:
            continue
        spans.append((term.start, term.end))
    start, _ = _best_window(marked, size)
    # Open a little before the first match, at a word break, so it reads in context.
    back = max(0, start - size // 4)
    lead = text.find(" ", back, start) if back else -1
    start = lead + 1 if lead >= 0 else back
    end = min(len(text), start + size)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    pieces = [ELLIPSIS] if start > 0 else []
    cursor = start
    for span_start, span_end in spans:
        if span_start < start or span_end > end:
            continue
        pieces += [escape(text[cursor:span_start]), "<mark>"]
        pieces += [escape(text[span_start:span_end]), "</mark>"]
        cursor = span_end
    pieces.append(escape(text[cursor:end]))
    if end < len(text):
        pieces.append(ELLIPSIS)
    return "".join(pieces).strip()
