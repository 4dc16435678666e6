"""The processed-event guard: each consumer records the events it has handled and skips repeats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.mongo import Document, Indexes

COLLECTION = "processed_events"


def processed_indexes(ttl: timedelta) -> Indexes:
    return Indexes(
        COLLECTION,
        [IndexModel([("processed_at", ASCENDING)], expireAfterSeconds=int(ttl.total_seconds()))],
    )


class ProcessedEvents:
    """Which events a consumer has finished with; one document per (consumer, event id).

    A handler asks `seen()` first and calls `mark()` only after all of its effects are done,
    so a crash in between makes Kafka redeliver and the effects (all idempotent) run again.
    """

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._collection = db[COLLECTION]

    @staticmethod
    def _key(consumer: str, event_id: UUID | str) -> str:
        return f"{consumer}:{event_id}"

    async def seen(self, consumer: str, event_id: UUID | str) -> bool:
        found = await self._collection.find_one({"_id": self._key(consumer, event_id)}, {"_id": 1})
        return found is not None

    async def mark(self, consumer: str, event_id: UUID | str) -> None:
        try:
            await self._collection.insert_one(
                {"_id": self._key(consumer, event_id), "processed_at": datetime.now(UTC)}
            )
        except DuplicateKeyError:
            pass
