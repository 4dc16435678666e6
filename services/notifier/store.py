"""The delivery log in MongoDB (collection `deliveries`), behind a Protocol.

One document per delivery, its `_id` the delivery key `event_id:recipient_id:channel` (a push
adds `:replica_id`, each replica pushing to its own consoles). An email
is sent once even when its event is redelivered: the handler asks `already_sent` first, sends,
then `record`s. A crash between the send and the record makes Kafka redeliver and the email go
out again, so email delivery is at-least-once; the mail's Message-ID repeats with it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.clock import Clock, SystemClock
from shared.mongo import Document, Indexes

COLLECTION = "deliveries"

DeliveryStatus = Literal["pending", "sent", "failed"]


class Delivery(BaseModel):
    """One delivery as the log holds it."""

    key: str = Field(description="`event_id:recipient_id:channel`, then `:replica_id` for a push.")
    status: DeliveryStatus = Field(description="`pending` while a push is being sent.")
    attempts: int = Field(default=0, ge=0, description="Tries made.")
    at: datetime = Field(description="When the status was last set.")
    ticket_id: str | None = None
    recipient: str
    channel: str
    address: str | None = None
    cause_event_id: str
    error: str | None = None


class DeliveryStore(Protocol):
    async def already_sent(self, key: str) -> Delivery | None: ...
    async def claim(self, delivery: Delivery) -> bool: ...
    async def record(self, delivery: Delivery) -> None: ...
    async def list(self, *, ticket_id: str | None = None, limit: int = 100) -> list[Delivery]: ...


class MongoDeliveryStore:
    def __init__(self, db: AsyncDatabase[Document], clock: Clock | None = None) -> None:
        self._deliveries = db[COLLECTION]
        self._clock = clock or SystemClock()

    @staticmethod
    def indexes() -> list[Indexes]:
        return [Indexes(COLLECTION, [IndexModel([("ticket_id", ASCENDING), ("at", DESCENDING)])])]

    def _document(self, delivery: Delivery) -> Document:
        doc = delivery.model_dump(exclude={"key"})
        doc["at"] = self._clock.now()
        return doc

    @staticmethod
    def _delivery(doc: Document) -> Delivery:
        return Delivery.model_validate({**doc, "key": doc["_id"]})

    async def already_sent(self, key: str) -> Delivery | None:
        """The delivery if it went out; a failed or pending one may be tried again."""
        doc = await self._deliveries.find_one({"_id": key, "status": "sent"})
        return self._delivery(doc) if doc else None

    async def claim(self, delivery: Delivery) -> bool:
        """Take a delivery for this process; false when it was already taken."""
        try:
            await self._deliveries.insert_one({"_id": delivery.key, **self._document(delivery)})
        except DuplicateKeyError:
            return False
        return True

    async def record(self, delivery: Delivery) -> None:
        await self._deliveries.replace_one(
            {"_id": delivery.key}, self._document(delivery), upsert=True
        )

    async def list(self, *, ticket_id: str | None = None, limit: int = 100) -> list[Delivery]:
        query: Document = {"ticket_id": ticket_id} if ticket_id else {}
        cursor = self._deliveries.find(query).sort("at", DESCENDING).limit(limit)
        return [self._delivery(doc) async for doc in cursor]
