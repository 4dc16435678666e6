"""The knowledge base's store in memory (dicts), for fast tests of the use cases; the contract
tests (`tests/integration/test_kb_store.py`) hold it to what the MongoDB store does."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.kb.domain.articles import DRAFTED_BY, Article
from services.kb.domain.canned import CannedResponse
from services.kb.domain.erasure import names_the_person
from services.kb.domain.reports import ArticleRow, Counter, Counts, QueryRow, query_key
from services.kb.domain.tickets import OfferClaim, TicketNote, TicketSeen


@dataclass
class _Search:
    query_id: str
    query: str
    key: str
    language: str | None
    results: int
    at: datetime
    opened: str | None = None


class MemoryKbStore:
    """Every collection a dict. `calls` counts the calls of the methods the subscribers use, so
    a test sees what a batch costs the store."""

    def __init__(self) -> None:
        self.articles_by_id: dict[str, Article] = {}
        self.versions_by_id: dict[tuple[str, int], Article] = {}
        self.canned_by_id: dict[str, CannedResponse] = {}
        self.tickets_by_id: dict[str, TicketSeen] = {}
        self.stats: dict[str, dict[Counter, int]] = {}
        self.searches: dict[str, _Search] = {}
        self.deflections: dict[str, str] = {}
        self.calls: dict[str, int] = {}

    def _call(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    # -- articles and canned responses ---------------------------------------------------------

    async def article(self, article_id: str) -> Article | None:
        self._call("article")
        return self.articles_by_id.get(article_id)

    async def articles_by_ids(self, article_ids: Iterable[str]) -> dict[str, Article]:
        self._call("articles_by_ids")
        by_id = self.articles_by_id
        return {a: by_id[a] for a in article_ids if a in by_id}

    async def create(self, article: Article) -> bool:
        self._call("create")
        if article.article_id in self.articles_by_id:
            return False
        self.articles_by_id[article.article_id] = article
        self.versions_by_id[(article.article_id, article.version)] = article
        return True

    async def add_missing(self, articles: Sequence[Article]) -> int:
        self._call("add_missing")
        new = [a for a in articles if a.article_id not in self.articles_by_id]
        for article in new:
            self.articles_by_id[article.article_id] = article
            self.versions_by_id[(article.article_id, article.version)] = article
        return len(new)

    async def save(self, article: Article, from_version: int) -> bool:
        self._call("save")
        current = self.articles_by_id.get(article.article_id)
        if current is None or current.version != from_version:
            return False
        self.articles_by_id[article.article_id] = article
        self.versions_by_id[(article.article_id, article.version)] = article
        return True

    async def versions(self, article_id: str) -> list[Article]:
        found = [a for (a_id, _), a in self.versions_by_id.items() if a_id == article_id]
        return sorted(found, key=lambda a: a.version, reverse=True)

    async def articles(
        self, *, status: str | None = None, category: str | None = None, limit: int = 100
    ) -> list[Article]:
        found = [
            a
            for a in self.articles_by_id.values()
            if (status is None or a.status == status)
            and (category is None or a.category == category)
        ]
        found.sort(key=lambda a: a.updated_at or datetime.min, reverse=True)
        return found[:limit]

    async def every_article(self) -> list[Article]:
        return list(self.articles_by_id.values())

    async def changed_since(self, since: datetime) -> list[Article]:
        return [a for a in self.articles_by_id.values() if a.updated_at and a.updated_at >= since]

    async def canned(self, language: str | None = None) -> list[CannedResponse]:
        found = [c for c in self.canned_by_id.values() if language is None or language in c.texts]
        return sorted(found, key=lambda c: c.canned_id)

    async def canned_response(self, canned_id: str) -> CannedResponse | None:
        return self.canned_by_id.get(canned_id)

    async def put_canned(self, canned: CannedResponse) -> None:
        self.canned_by_id[canned.canned_id] = canned

    async def add_missing_canned(self, canned: Sequence[CannedResponse]) -> int:
        new = [c for c in canned if c.canned_id not in self.canned_by_id]
        self.canned_by_id.update((c.canned_id, c) for c in new)
        return len(new)

    async def delete_canned(self, canned_id: str) -> bool:
        return self.canned_by_id.pop(canned_id, None) is not None

    async def articles_from(self, ticket_ids: Sequence[str]) -> list[Article]:
        wanted = set(ticket_ids)
        return [a for a in self.articles_by_id.values() if a.source_ticket_id in wanted]

    async def delete_articles(self, article_ids: Sequence[str]) -> None:
        for article_id in article_ids:
            self.articles_by_id.pop(article_id, None)
        self.versions_by_id = {
            key: a for key, a in self.versions_by_id.items() if key[0] not in article_ids
        }

    async def unlink_articles(self, article_ids: Sequence[str]) -> None:
        unlinked = {"source_ticket_id": None}
        for article_id in article_ids:
            if article_id in self.articles_by_id:
                article = self.articles_by_id[article_id]
                self.articles_by_id[article_id] = article.model_copy(update=unlinked)
        self.versions_by_id = {
            key: a.model_copy(update=unlinked) if key[0] in article_ids else a
            for key, a in self.versions_by_id.items()
            if key[0] not in article_ids or a.updated_by != DRAFTED_BY
        }

    # -- tickets -------------------------------------------------------------------------------

    async def ticket(self, ticket_id: str) -> TicketSeen | None:
        self._call("ticket")
        return self.tickets_by_id.get(ticket_id)

    async def tickets(self, ticket_ids: Iterable[str]) -> dict[str, TicketSeen]:
        self._call("tickets")
        by_id = self.tickets_by_id
        return {t: by_id[t] for t in ticket_ids if t in by_id}

    async def note_tickets(self, notes: Mapping[str, TicketNote]) -> None:
        self._call("note_tickets")
        for ticket_id, note in notes.items():
            seen = self.tickets_by_id.get(ticket_id) or TicketSeen(ticket_id)
            self.tickets_by_id[ticket_id] = seen.noted(note)

    async def claim_offers(self, claims: Mapping[str, OfferClaim]) -> set[str]:
        self._call("claim_offers")
        held: set[str] = set()
        for ticket_id, claim in claims.items():
            seen = self.tickets_by_id.get(ticket_id)
            if seen is None:
                continue
            seen = self.tickets_by_id[ticket_id] = seen.claimed(claim)
            if seen.offer_id == claim.offer_id:
                held.add(ticket_id)
        return held

    async def forget_tickets(self, ticket_ids: Sequence[str]) -> None:
        for ticket_id in ticket_ids:
            self.tickets_by_id.pop(ticket_id, None)

    # -- analytics -----------------------------------------------------------------------------

    async def count(self, counts: Counts) -> None:
        self._call("count")
        for article_id, counters in counts.items():
            into = self.stats.setdefault(article_id, {})
            for counter, by in counters.items():
                into[counter] = into.get(counter, 0) + by

    async def searched(
        self, query_id: str, query: str, language: str | None, results: int, at: datetime
    ) -> None:
        self._call("searched")
        self.searches[query_id] = _Search(query_id, query, query_key(query), language, results, at)

    async def opened(self, query_id: str, article_id: str) -> bool:
        search = self.searches.get(query_id)
        if search is None:
            return False
        search.opened = article_id
        return True

    async def deflected(self, ticket_id: str, article_id: str, at: datetime) -> bool:
        if ticket_id in self.deflections:
            return False
        self.deflections[ticket_id] = article_id
        return True

    async def deflection(self, ticket_id: str) -> str | None:
        return self.deflections.get(ticket_id)

    async def forget_deflections(self, ticket_ids: Sequence[str]) -> None:
        pass  # a deflection here is only the article that solved it: nothing of the person

    async def forget_searches(self, patterns: Sequence[str]) -> None:
        if patterns:
            self.searches = {
                q: s for q, s in self.searches.items() if not names_the_person(s.key, patterns)
            }

    async def top_queries(
        self, since: datetime, *, limit: int = 20, only_empty: bool = False
    ) -> list[QueryRow]:
        groups: dict[tuple[str, str | None], list[_Search]] = {}
        for search in sorted(self.searches.values(), key=lambda s: s.at):
            if search.at >= since and (not only_empty or search.results == 0):
                groups.setdefault((search.key, search.language), []).append(search)
        rows = [
            QueryRow(
                query=found[0].query,
                language=language,
                searches=len(found),
                found_nothing=sum(s.results == 0 for s in found),
                opened=sum(s.opened is not None for s in found),
                last_searched=max(s.at for s in found),
            )
            for (_, language), found in groups.items()
        ]
        rows.sort(key=lambda r: (r.searches, r.last_searched), reverse=True)
        return rows[:limit]

    async def article_rows(self, *, limit: int = 50, order: Counter = "views") -> list[ArticleRow]:
        rows = [ArticleRow(article_id=a, **counters) for a, counters in self.stats.items()]
        rows.sort(key=lambda r: r.article_id)
        rows.sort(key=lambda r: getattr(r, order), reverse=True)
        return rows[:limit]
