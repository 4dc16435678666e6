"""The processed-event guard: each consumer records the events it has handled and skips repeats."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol
from uuid import UUID

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from shared.mongo import Document, Indexes, chunked

COLLECTION = "processed_events"
#: Duplicate key: the event was marked by an earlier try, which is what marking wants.
DUPLICATE_KEY = 11000


def processed_indexes(ttl: timedelta) -> Indexes:
    return Indexes(
        COLLECTION,
        [IndexModel([("processed_at", ASCENDING)], expireAfterSeconds=int(ttl.total_seconds()))],
    )


def _key(consumer: str, event_id: UUID | str) -> str:
    return f"{consumer}:{event_id}"


class Guard(Protocol):
    """Which events a consumer has finished with (the kit asks once per batch)."""

    async def seen_many(self, consumer: str, event_ids: Sequence[str]) -> set[str]: ...
    async def mark_many(self, consumer: str, event_ids: Iterable[str]) -> None: ...


class ProcessedEvents:
    """Which events a consumer has finished with; one document per (consumer, event id).

    The kit asks `seen_many()` for a whole batch first and calls `mark_many()` only after all
    of the batch's effects are done, so a crash in between makes Kafka redeliver and the
    effects (all idempotent) run again.
    """

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._collection = db[COLLECTION]

    async def seen_many(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        """The ids among `event_ids` this consumer has marked, in one read per chunk."""
        prefix = len(consumer) + 1
        found: set[str] = set()
        for chunk in chunked([_key(consumer, e) for e in event_ids]):
            cursor = self._collection.find({"_id": {"$in": chunk}}, {"_id": 1})
            found.update([doc["_id"][prefix:] async for doc in cursor])
        return found

    async def mark_many(self, consumer: str, event_ids: Iterable[str]) -> None:
        """Mark the events processed in one write; ids marked before are left as they are."""
        now = datetime.now(UTC)
        docs = [{"_id": _key(consumer, e), "processed_at": now} for e in dict.fromkeys(event_ids)]
        if not docs:
            return
        try:
            await self._collection.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(error.get("code") != DUPLICATE_KEY for error in errors):
                raise

    async def seen(self, consumer: str, event_id: UUID | str) -> bool:
        return bool(await self.seen_many(consumer, [str(event_id)]))

    async def mark(self, consumer: str, event_id: UUID | str) -> None:
        await self.mark_many(consumer, [str(event_id)])


class MemoryGuard:
    """The guard in memory, for handler tests and in-memory runs."""

    def __init__(self) -> None:
        self.marked: set[str] = set()

    async def seen_many(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        return {e for e in event_ids if _key(consumer, e) in self.marked}

    async def mark_many(self, consumer: str, event_ids: Iterable[str]) -> None:
        self.marked.update(_key(consumer, e) for e in event_ids)
