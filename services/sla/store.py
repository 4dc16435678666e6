"""The SLA service's MongoDB adapter: clocks, and replies and resolutions seen before routing."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.sla.domain import EarlyReply, EarlyResolution, SlaClock
from shared.mongo import Document, Indexes

CLOCKS = "clocks"
EARLY_REPLIES = "early_replies"
EARLY_RESOLUTIONS = "early_resolutions"


class ClockStore(Protocol):
    async def insert(self, clock: SlaClock) -> bool: ...
    async def save_if_running(self, clock: SlaClock) -> bool: ...
    async def get(self, key: str) -> SlaClock | None: ...
    async def for_ticket(self, ticket_id: str) -> list[SlaClock]: ...
    async def running_in(self, partitions: Iterable[int]) -> list[SlaClock]: ...
    async def remember_reply(self, reply: EarlyReply) -> None: ...
    async def early_reply(self, ticket_id: str) -> EarlyReply | None: ...
    async def remember_resolution(self, resolution: EarlyResolution) -> None: ...
    async def forget_resolution(self, ticket_id: str) -> None: ...
    async def early_resolution(self, ticket_id: str) -> EarlyResolution | None: ...


def _document(clock: SlaClock) -> Document:
    return {"_id": clock.key, **clock.model_dump()}


def _clock(doc: dict[str, Any]) -> SlaClock:
    doc.pop("_id", None)
    return SlaClock.model_validate(doc)


class MongoClockStore:
    """Clocks keyed `ticket_id:metric`; a clock leaves `running` once, guarded by its status."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._clocks = db[CLOCKS]
        self._early = db[EARLY_REPLIES]
        self._resolutions = db[EARLY_RESOLUTIONS]

    @staticmethod
    def indexes() -> list[Indexes]:
        return [
            Indexes(
                CLOCKS,
                [
                    IndexModel([("status", ASCENDING), ("partition", ASCENDING)]),
                    IndexModel([("due_at", ASCENDING)]),
                    IndexModel([("ticket_id", ASCENDING)]),
                ],
            )
        ]

    async def insert(self, clock: SlaClock) -> bool:
        """Store a new clock; False if it exists already (a redelivery started it)."""
        try:
            await self._clocks.insert_one(_document(clock))
        except DuplicateKeyError:
            return False
        return True

    async def save_if_running(self, clock: SlaClock) -> bool:
        """Replace a clock only while the stored one still runs: the version guard.

        Of two writers moving the same clock to met or breached, one wins; the other gets False.
        """
        result = await self._clocks.replace_one(
            {"_id": clock.key, "status": "running"}, _document(clock)
        )
        return result.matched_count == 1

    async def get(self, key: str) -> SlaClock | None:
        doc = await self._clocks.find_one({"_id": key})
        return _clock(doc) if doc is not None else None

    async def for_ticket(self, ticket_id: str) -> list[SlaClock]:
        return [_clock(doc) async for doc in self._clocks.find({"ticket_id": ticket_id})]

    async def running_in(self, partitions: Iterable[int]) -> list[SlaClock]:
        query = {"status": "running", "partition": {"$in": sorted(set(partitions))}}
        return [_clock(doc) async for doc in self._clocks.find(query)]

    async def remember_reply(self, reply: EarlyReply) -> None:
        """Keep the first reply only; a later one does not make the response any earlier."""
        try:
            await self._early.insert_one({"_id": reply.ticket_id, **reply.model_dump()})
        except DuplicateKeyError:
            pass

    async def early_reply(self, ticket_id: str) -> EarlyReply | None:
        doc = await self._early.find_one({"_id": ticket_id}, {"_id": 0})
        return EarlyReply.model_validate(doc) if doc is not None else None

    async def remember_resolution(self, resolution: EarlyResolution) -> None:
        """Keep the first resolution only: closing a resolved ticket does not resolve it later."""
        try:
            await self._resolutions.insert_one(
                {"_id": resolution.ticket_id, **resolution.model_dump()}
            )
        except DuplicateKeyError:
            pass

    async def forget_resolution(self, ticket_id: str) -> None:
        """The ticket was reopened (or otherwise moved on) before it was routed."""
        await self._resolutions.delete_one({"_id": ticket_id})

    async def early_resolution(self, ticket_id: str) -> EarlyResolution | None:
        doc = await self._resolutions.find_one({"_id": ticket_id}, {"_id": 0})
        return EarlyResolution.model_validate(doc) if doc is not None else None
