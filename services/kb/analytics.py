"""Search analytics in MongoDB: every search with its results and the article opened from it;
views, votes, suggestions and deflections per article; the reports built from them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.kb.analysis import fold
from shared.mongo import Document, Indexes

Counter = Literal["views", "helpful", "not_helpful", "suggested", "offered", "deflections"]


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


class Analytics:
    def __init__(self, db: AsyncDatabase[Document], keep: timedelta) -> None:
        self._searches = db["searches"]
        self._stats = db["article_stats"]
        self._deflections = db["deflections"]
        self._keep = keep

    @staticmethod
    def indexes(keep: timedelta) -> list[Indexes]:
        seconds = int(keep.total_seconds())
        return [
            Indexes(
                "searches",
                [
                    IndexModel([("at", ASCENDING)], expireAfterSeconds=seconds),
                    IndexModel([("key", ASCENDING)]),
                ],
            )
        ]

    async def searched(
        self, query_id: str, query: str, language: str | None, results: int, at: datetime
    ) -> None:
        doc = {
            "_id": query_id,
            "query": query,
            "key": query_key(query),
            "language": language,
            "results": results,
            "opened": None,
            "at": at,
        }
        await self._searches.insert_one(doc)

    async def opened(self, query_id: str, article_id: str) -> bool:
        """Record the article opened from a search; False if there is no such search."""
        result = await self._searches.update_one(
            {"_id": query_id}, {"$set": {"opened": article_id}}
        )
        return result.matched_count == 1

    async def count(self, article_id: str, counter: Counter, by: int = 1) -> None:
        await self._stats.update_one({"_id": article_id}, {"$inc": {counter: by}}, upsert=True)

    async def deflected(self, ticket_id: str, article_id: str, at: datetime) -> bool:
        """True the first time a ticket is deflected; its article counts one deflection."""
        doc = {"_id": ticket_id, "article_id": article_id, "at": at}
        try:
            await self._deflections.insert_one(doc)
        except DuplicateKeyError:
            return False
        await self.count(article_id, "deflections")
        return True

    async def deflection(self, ticket_id: str) -> Document | None:
        return await self._deflections.find_one({"_id": ticket_id})

    async def top_queries(
        self, since: datetime, *, limit: int = 20, only_empty: bool = False
    ) -> list[QueryRow]:
        match: dict[str, Any] = {"at": {"$gte": since}}
        if only_empty:
            match["results"] = 0
        pipeline: list[dict[str, Any]] = [
            {"$match": match},
            {
                "$group": {
                    "_id": {"key": "$key", "language": "$language"},
                    "query": {"$first": "$query"},
                    "searches": {"$sum": 1},
                    "found_nothing": {"$sum": {"$cond": [{"$eq": ["$results", 0]}, 1, 0]}},
                    "opened": {"$sum": {"$cond": [{"$ne": ["$opened", None]}, 1, 0]}},
                    "last_searched": {"$max": "$at"},
                }
            },
            {"$sort": {"searches": DESCENDING, "last_searched": DESCENDING}},
            {"$limit": limit},
        ]
        rows = await (await self._searches.aggregate(pipeline)).to_list()
        return [QueryRow(language=row["_id"]["language"], **row) for row in rows]

    async def articles(self, *, limit: int = 50, order: Counter = "views") -> list[ArticleRow]:
        cursor = self._stats.find({}).sort([(order, DESCENDING), ("_id", ASCENDING)]).limit(limit)
        return [ArticleRow(article_id=doc.pop("_id"), **doc) async for doc in cursor]
