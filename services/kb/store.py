"""The knowledge base's MongoDB adapter: articles and their versions, canned responses, and the
tickets it suggested for (the analytics are in `analytics.py`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.kb.canned import CannedResponse
from services.kb.domain import Article
from shared.mongo import Document, Indexes


def _article(doc: Document) -> Article:
    doc.pop("_id", None)
    return Article.model_validate(doc)


class KbStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._articles = db["articles"]
        self._versions = db["article_versions"]
        self._canned = db["canned"]
        self._tickets = db["tickets"]

    @staticmethod
    def indexes() -> list[Indexes]:
        return [
            Indexes(
                "articles",
                [IndexModel([("updated_at", ASCENDING)]), IndexModel([("status", ASCENDING)])],
            ),
            Indexes("article_versions", [IndexModel([("article_id", ASCENDING)])]),
        ]

    # -- articles ------------------------------------------------------------------------------

    async def article(self, article_id: str) -> Article | None:
        doc = await self._articles.find_one({"_id": article_id})
        return _article(doc) if doc else None

    async def create(self, article: Article) -> bool:
        """Store a new article and its first version; False if the id is taken."""
        try:
            await self._articles.insert_one({"_id": article.article_id, **_dump(article)})
        except DuplicateKeyError:
            return False
        await self._keep_version(article)
        return True

    async def save(self, article: Article, from_version: int) -> bool:
        """Replace the article if it is still at `from_version`; keep the new version."""
        doc = await self._articles.find_one_and_replace(
            {"_id": article.article_id, "version": from_version},
            _dump(article),
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            return False
        await self._keep_version(article)
        return True

    async def _keep_version(self, article: Article) -> None:
        key = f"{article.article_id}:{article.version}"
        doc = {"_id": key, **_dump(article)}
        await self._versions.replace_one({"_id": key}, doc, upsert=True)

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

    # -- canned responses ----------------------------------------------------------------------

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

    async def add_canned(self, canned: CannedResponse) -> bool:
        try:
            await self._canned.insert_one({"_id": canned.canned_id, **canned.model_dump()})
        except DuplicateKeyError:
            return False
        return True

    async def delete_canned(self, canned_id: str) -> bool:
        return (await self._canned.delete_one({"_id": canned_id})).deleted_count == 1

    # -- tickets seen --------------------------------------------------------------------------

    async def note_ticket(self, ticket_id: str, fields: Document) -> Document:
        """Merge what one event tells of a ticket; the merged record after."""
        doc = await self._tickets.find_one_and_update(
            {"_id": ticket_id},
            {"$set": fields},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert doc is not None
        return doc

    async def ticket(self, ticket_id: str) -> Document | None:
        return await self._tickets.find_one({"_id": ticket_id})

    async def claim_offer(self, ticket_id: str, offered: list[Document]) -> bool:
        """True once per ticket: the caller offers its customer these articles."""
        doc = await self._tickets.find_one_and_update(
            {"_id": ticket_id, "offered": {"$exists": False}}, {"$set": {"offered": offered}}
        )
        return doc is not None


def _dump(article: Article) -> Document:
    return article.model_dump(mode="python")
