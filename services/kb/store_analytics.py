"""Search analytics in MongoDB: every search with its results and the article opened from it;
views, votes, suggestions, offers and deflections per article; the reports built from them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReplaceOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.kb.domain.reports import ArticleRow, Counter, Counts, QueryRow, query_key
from services.kb.store_tickets import bulk_upsert
from shared.mongo import Document, Indexes, find_by_ids

#: What a deflection keeps once its ticket's customer is erased (nothing of the person).
DEFLECTION_FIELDS = ("article_id", "at")


class MongoAnalytics:
    """Collections `searches` (each kept `search_log` long), `article_stats`, `deflections`."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._searches = db["searches"]
        self._stats = db["article_stats"]
        self._deflections = db["deflections"]

    @staticmethod
    def analytics_indexes(search_log: timedelta) -> list[Indexes]:
        seconds = int(search_log.total_seconds())
        return [
            Indexes(
                "searches",
                [
                    IndexModel([("at", ASCENDING)], expireAfterSeconds=seconds),
                    IndexModel([("key", ASCENDING)]),
                ],
            )
        ]

    async def count(self, counts: Counts) -> None:
        ops = [
            UpdateOne({"_id": article_id}, {"$inc": dict(counters)}, upsert=True)
            for article_id, counters in counts.items()
            if counters
        ]
        await bulk_upsert(self._stats, ops)

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
        result = await self._searches.update_one(
            {"_id": query_id}, {"$set": {"opened": article_id}}
        )
        return result.matched_count == 1

    async def deflected(self, ticket_id: str, article_id: str, at: datetime) -> bool:
        try:
            await self._deflections.insert_one(
                {"_id": ticket_id, "article_id": article_id, "at": at}
            )
        except DuplicateKeyError:
            return False
        return True

    async def deflection(self, ticket_id: str) -> str | None:
        doc = await self._deflections.find_one({"_id": ticket_id})
        return str(doc["article_id"]) if doc else None

    async def forget_deflections(self, ticket_ids: Sequence[str]) -> None:
        found = await find_by_ids(self._deflections, ticket_ids)
        ops = [
            ReplaceOne({"_id": ticket_id}, {k: doc[k] for k in DEFLECTION_FIELDS if k in doc})
            for ticket_id, doc in found.items()
            if set(doc) - {"_id", *DEFLECTION_FIELDS}
        ]
        if ops:
            await self._deflections.bulk_write(ops, ordered=False)

    async def forget_searches(self, patterns: Sequence[str]) -> None:
        # No index serves an unanchored pattern: erasure is rare, and reads the log once.
        if patterns:
            await self._searches.delete_many({"$or": [{"key": {"$regex": p}} for p in patterns]})

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

    async def article_rows(self, *, limit: int = 50, order: Counter = "views") -> list[ArticleRow]:
        cursor = self._stats.find({}).sort([(order, DESCENDING), ("_id", ASCENDING)]).limit(limit)
        return [ArticleRow(article_id=doc.pop("_id"), **doc) async for doc in cursor]
