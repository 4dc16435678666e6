"""The analytics reports' rows and the counters kept per article; searches for the same words
count together whatever their case, accents or spacing."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.kb.domain.analysis import fold

Counter = Literal["views", "helpful", "not_helpful", "suggested", "offered", "deflections"]
#: Counter increments per article, coalesced: one write per article whatever the batch held.
Counts = dict[str, dict[Counter, int]]


class QueryRow(BaseModel):
    query: str = Field(description="The query as most often typed.")
    language: str | None
    searches: int
    found_nothing: int = Field(description="How many of these searches found no article.")
    opened: int = Field(description="How many led to an article being opened.")
    last_searched: datetime


class ArticleRow(BaseModel):
    article_id: str
    views: int = 0
    helpful: int = 0
    not_helpful: int = 0
    suggested: int = Field(default=0, description="Tickets it was suggested for.")
    offered: int = Field(default=0, description="Customers it was offered to as self-help.")
    deflections: int = Field(default=0, description="Tickets it solved without an agent.")


def query_key(query: str) -> str:
    """Searches for the same words count together: case, accents, letter forms, spacing."""
    return " ".join(fold(query).replace("\x00", "").lower().split())


def tally(counts: Counts, counter: Counter, article_ids: Iterable[str]) -> Counts:
    """Add one to `counter` of each article in `counts` (in place, and returned)."""
    for article_id in article_ids:
        per_article = counts.setdefault(article_id, {})
        per_article[counter] = per_article.get(counter, 0) + 1
    return counts


def one(article_id: str, *counters: Counter) -> Counts:
    """One more of each of `counters` for one article."""
    return {article_id: dict.fromkeys(counters, 1)} if counters else {}
