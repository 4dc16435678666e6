"""The knowledge base's store: one Protocol for what the use cases keep in MongoDB (articles and
their versions, canned responses, the tickets it joined, the analytics), and its MongoDB adapter,
composed of one adapter per group of collections. `store_memory.py` is the in-memory fake."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.kb.domain.articles import DRAFTED_BY, Article
from services.kb.domain.canned import CannedResponse
from services.kb.domain.reports import ArticleRow, Counter, Counts, QueryRow
from services.kb.domain.tickets import OfferClaim, TicketNote, TicketSeen
from services.kb.store_analytics import MongoAnalytics
from services.kb.store_tickets import MongoTickets
from shared.mongo import Document, Indexes, find_by_ids, insert_new


class KbStore(Protocol):
    """What the knowledge base keeps; the bulk methods take a whole batch in one write."""

    # -- articles and canned responses ---------------------------------------------------------
    async def article(self, article_id: str) -> Article | None: ...
    async def articles_by_ids(self, article_ids: Iterable[str]) -> dict[str, Article]: ...
    async def create(self, article: Article) -> bool:
        """Store a new article and its first version; False if the id is taken."""

    async def add_missing(self, articles: Sequence[Article]) -> int:
        """Store the articles whose ids are new (in bulk); how many were."""

    async def save(self, article: Article, from_version: int) -> bool:
        """Replace the article if it is still at `from_version`; keep the new version."""

    async def versions(self, article_id: str) -> list[Article]: ...
    async def articles(
        self, *, status: str | None = None, category: str | None = None, limit: int = 100
    ) -> list[Article]: ...
    async def every_article(self) -> list[Article]: ...
    async def changed_since(self, since: datetime) -> list[Article]: ...
    async def canned(self, language: str | None = None) -> list[CannedResponse]: ...
    async def canned_response(self, canned_id: str) -> CannedResponse | None: ...
    async def put_canned(self, canned: CannedResponse) -> None: ...
    async def add_missing_canned(self, canned: Sequence[CannedResponse]) -> int: ...
    async def delete_canned(self, canned_id: str) -> bool: ...
    async def articles_from(self, ticket_ids: Sequence[str]) -> list[Article]:
        """The articles drafted from any of these tickets, in any status."""

    async def delete_articles(self, article_ids: Sequence[str]) -> None:
        """Delete the articles and every version of them."""

    async def unlink_articles(self, article_ids: Sequence[str]) -> None:
        """The articles and their versions lose `source_ticket_id`; the versions the knowledge
        base drafted itself (not an editor) go."""

    # -- tickets -------------------------------------------------------------------------------
    async def ticket(self, ticket_id: str) -> TicketSeen | None: ...
    async def tickets(self, ticket_ids: Iterable[str]) -> dict[str, TicketSeen]:
        """The tickets known among `ticket_ids`, in chunked reads."""

    async def note_tickets(self, notes: Mapping[str, TicketNote]) -> None:
        """Merge what the batch tells of each ticket, in one write."""

    async def claim_offers(self, claims: Mapping[str, OfferClaim]) -> set[str]:
        """Offer each ticket its claim's articles unless it was offered some before, in one
        write; the tickets whose offer is the claim's (made now or by an earlier try)."""

    async def forget_tickets(self, ticket_ids: Sequence[str]) -> None:
        """Delete what the knowledge base noted of these tickets (subject, suggestions...)."""

    # -- analytics -----------------------------------------------------------------------------
    async def count(self, counts: Counts) -> None:
        """Add the counts per article, one write for all."""

    async def searched(
        self, query_id: str, query: str, language: str | None, results: int, at: datetime
    ) -> None: ...
    async def opened(self, query_id: str, article_id: str) -> bool:
        """Record the article opened from a search; False if there is no such search."""

    async def deflected(self, ticket_id: str, article_id: str, at: datetime) -> bool:
        """True the first time a ticket is deflected."""

    async def deflection(self, ticket_id: str) -> str | None:
        """The article that deflected the ticket, if one did."""

    async def forget_deflections(self, ticket_ids: Sequence[str]) -> None:
        """The deflections of these tickets keep only which article solved them, and when."""

    async def forget_searches(self, patterns: Sequence[str]) -> None:
        """Delete every logged search whose `key` matches any of these regular expressions."""

    async def top_queries(
        self, since: datetime, *, limit: int = 20, only_empty: bool = False
    ) -> list[QueryRow]: ...
    async def article_rows(self, *, limit: int = 50, order: Counter = "views") -> list[ArticleRow]:
        """Per-article counters, most of `order` first."""


def _article(doc: Document) -> Article:
    doc.pop("_id", None)
    return Article.model_validate(doc)


def _dump(article: Article) -> Document:
    return article.model_dump(mode="python")


def _version(article: Article) -> Document:
    return {"_id": f"{article.article_id}:{article.version}", **_dump(article)}


class MongoArticles:
    """Articles, every version of each, and canned responses."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._articles = db["articles"]
        self._versions = db["article_versions"]
        self._canned = db["canned"]

    @staticmethod
    def article_indexes() -> list[Indexes]:
        newest = ("updated_at", DESCENDING)
        return [
            Indexes(
                "articles",
                [
                    IndexModel([("updated_at", ASCENDING)]),
                    IndexModel([("status", ASCENDING), newest]),
                    IndexModel([("category", ASCENDING), newest]),
                    # Erasure finds the articles drafted from a person's tickets.
                    IndexModel([("source_ticket_id", ASCENDING)]),
                ],
            ),
            Indexes(
                "article_versions",
                [IndexModel([("article_id", ASCENDING), ("version", DESCENDING)])],
            ),
        ]

    async def article(self, article_id: str) -> Article | None:
        doc = await self._articles.find_one({"_id": article_id})
        return _article(doc) if doc else None

    async def articles_by_ids(self, article_ids: Iterable[str]) -> dict[str, Article]:
        found = await find_by_ids(self._articles, article_ids)
        return {article_id: _article(doc) for article_id, doc in found.items()}

    async def create(self, article: Article) -> bool:
        try:
            await self._articles.insert_one({"_id": article.article_id, **_dump(article)})
        except DuplicateKeyError:
            return False
        await self._keep_version(article)
        return True

    async def add_missing(self, articles: Sequence[Article]) -> int:
        existed = await insert_new(
            self._articles, [{"_id": a.article_id, **_dump(a)} for a in articles]
        )
        new = [a for a in articles if a.article_id not in existed]
        await insert_new(self._versions, [_version(a) for a in new])
        return len(new)

    async def save(self, article: Article, from_version: int) -> bool:
        result = await self._articles.replace_one(
            {"_id": article.article_id, "version": from_version}, _dump(article)
        )
        if not result.matched_count:
            return False
        await self._keep_version(article)
        return True

    async def _keep_version(self, article: Article) -> None:
        doc = _version(article)
        await self._versions.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    async def versions(self, article_id: str) -> list[Article]:
        cursor = self._versions.find({"article_id": article_id}).sort("version", DESCENDING)
        return [_article(doc) async for doc in cursor]

    async def articles(
        self, *, status: str | None = None, category: str | None = None, limit: int = 100
    ) -> list[Article]:
        query: dict[str, Any] = {}
        if status:
            query["status"] = status
        if category:
            query["category"] = category
        cursor = self._articles.find(query).sort("updated_at", DESCENDING).limit(limit)
        return [_article(doc) async for doc in cursor]

    async def every_article(self) -> list[Article]:
        return [_article(doc) async for doc in self._articles.find({})]

    async def changed_since(self, since: datetime) -> list[Article]:
        cursor = self._articles.find({"updated_at": {"$gte": since}})
        return [_article(doc) async for doc in cursor]

    async def canned(self, language: str | None = None) -> list[CannedResponse]:
        query = {f"texts.{language}": {"$exists": True}} if language else {}
        cursor = self._canned.find(query).sort("_id", ASCENDING)
        return [CannedResponse.model_validate(doc) async for doc in cursor]

    async def canned_response(self, canned_id: str) -> CannedResponse | None:
        doc = await self._canned.find_one({"_id": canned_id})
        return CannedResponse.model_validate(doc) if doc else None

    async def put_canned(self, canned: CannedResponse) -> None:
        doc = {"_id": canned.canned_id, **canned.model_dump()}
        await self._canned.replace_one({"_id": canned.canned_id}, doc, upsert=True)

    async def add_missing_canned(self, canned: Sequence[CannedResponse]) -> int:
        docs = [{"_id": c.canned_id, **c.model_dump()} for c in canned]
        return len(docs) - len(await insert_new(self._canned, docs))

    async def delete_canned(self, canned_id: str) -> bool:
        return (await self._canned.delete_one({"_id": canned_id})).deleted_count == 1

    async def articles_from(self, ticket_ids: Sequence[str]) -> list[Article]:
        if not ticket_ids:
            return []
        cursor = self._articles.find({"source_ticket_id": {"$in": list(ticket_ids)}})
        return [_article(doc) async for doc in cursor]

    async def delete_articles(self, article_ids: Sequence[str]) -> None:
        if article_ids:
            # Versions first: a crash in between leaves the article, found again next time.
            await self._versions.delete_many({"article_id": {"$in": list(article_ids)}})
            await self._articles.delete_many({"_id": {"$in": list(article_ids)}})

    async def unlink_articles(self, article_ids: Sequence[str]) -> None:
        if not article_ids:
            return
        ids = {"$in": list(article_ids)}
        await self._versions.delete_many({"article_id": ids, "updated_by": DRAFTED_BY})
        unlink = {"$unset": {"source_ticket_id": ""}}
        await self._versions.update_many({"article_id": ids}, unlink)
        await self._articles.update_many({"_id": ids}, unlink)


class MongoKbStore(MongoArticles, MongoTickets, MongoAnalytics):
    """The knowledge base's MongoDB database, one adapter per group of collections."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        MongoArticles.__init__(self, db)
        MongoTickets.__init__(self, db)
        MongoAnalytics.__init__(self, db)

    @staticmethod
    def indexes(search_log: timedelta) -> list[Indexes]:
        return [*MongoArticles.article_indexes(), *MongoAnalytics.analytics_indexes(search_log)]
