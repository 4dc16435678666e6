"""The outbox and delivery log in MongoDB (collection `deliveries`): one job per email or
webhook to send, its `_id` the delivery key `event_id:recipient:channel` (plus `#rung` for a
ladder's later rungs), so an event redelivered by Kafka enqueues nothing twice.

A replica takes a due job with a lease and sends it; one that dies mid-delivery leaves the
lease to run out and the job to be taken again. A sent message is therefore sent at least
once and, in effect, once: the repeat carries the same Message-ID (email) or
`X-Helpdesk-Delivery` (webhook), by which the receiver drops it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.notifier.notices import Notice, Recipient
from shared.mongo import Document, Indexes

COLLECTION = "deliveries"

JobStatus = Literal["pending", "leased", "sent", "failed"]
OutboxChannel = Literal["email", "webhook"]


class Attempt(BaseModel):
    at: datetime
    outcome: Literal["sent", "retry", "failed"]
    error: str | None = None


class Job(BaseModel):
    """One message to one recipient on one channel, and what became of it."""

    key: str = Field(description="`event_id:recipient:channel` (`#rung` for later rungs).")
    channel: OutboxChannel
    recipient: str = Field(description="Person id, or the webhook's name.")
    address: str | None = Field(default=None, description="Email address or webhook URL.")
    person: Recipient | None = Field(default=None, description="The person, for an email.")
    notice: Notice
    ticket_id: str
    cause_event_id: str
    status: JobStatus = "pending"
    send_at: datetime = Field(description="Not before: a retry's backoff, working hours, digest.")
    created_at: datetime
    attempts: int = 0
    log: list[Attempt] = Field(default_factory=list, description="Every try, in order.")
    fold_key: str | None = Field(default=None, description="Jobs folded into one digest share it.")
    folded_into: str | None = Field(default=None, description="The job whose message carried it.")
    lease_owner: str | None = None
    lease_until: datetime | None = None
    error: str | None = None


def _doc(job: Job) -> Document:
    doc = job.model_dump(mode="python", exclude={"key"})
    doc["_id"] = job.key
    return doc


def _job(doc: Document) -> Job:
    return Job.model_validate({**doc, "key": doc["_id"]})


class Outbox:
    """Jobs waiting, being sent, sent and failed."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._jobs = db[COLLECTION]

    @staticmethod
    def indexes() -> list[Indexes]:
        return [
            Indexes(
                COLLECTION,
                [
                    IndexModel([("channel", ASCENDING), ("status", ASCENDING), ("send_at", 1)]),
                    IndexModel([("fold_key", ASCENDING), ("send_at", DESCENDING)]),
                    IndexModel([("ticket_id", ASCENDING), ("created_at", DESCENDING)]),
                ],
            )
        ]

    async def enqueue(self, job: Job) -> bool:
        """Add the job; false when one with its key exists (a redelivered event)."""
        try:
            await self._jobs.insert_one(_doc(job))
        except DuplicateKeyError:
            return False
        return True

    async def last_slot(self, fold_key: str) -> datetime | None:
        """When the latest message that folds with this key was scheduled."""
        doc = await self._jobs.find_one({"fold_key": fold_key}, sort=[("send_at", DESCENDING)])
        return doc["send_at"] if doc else None

    def _due(self, now: datetime) -> Document:
        return {
            "$or": [
                {"status": "pending", "send_at": {"$lte": now}},
                {"status": "leased", "lease_until": {"$lte": now}},
            ]
        }

    async def take(
        self, channel: OutboxChannel, *, now: datetime, owner: str, lease: timedelta
    ) -> Job | None:
        """Lease the job due soonest on the channel (or one whose holder's lease ran out)."""
        doc = await self._jobs.find_one_and_update(
            {"channel": channel, **self._due(now)},
            {"$set": {"status": "leased", "lease_owner": owner, "lease_until": now + lease}},
            sort=[("send_at", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )
        return _job(doc) if doc else None

    async def take_folding(
        self, job: Job, *, now: datetime, owner: str, lease: timedelta, limit: int = 50
    ) -> list[Job]:
        """Lease the other due jobs that fold into the same digest as `job`."""
        taken: list[Job] = []
        while job.fold_key and len(taken) < limit:
            doc = await self._jobs.find_one_and_update(
                {"fold_key": job.fold_key, "_id": {"$ne": job.key}, **self._due(now)},
                {"$set": {"status": "leased", "lease_owner": owner, "lease_until": now + lease}},
                sort=[("send_at", ASCENDING)],
                return_document=ReturnDocument.AFTER,
            )
            if doc is None:
                break
            taken.append(_job(doc))
        return taken

    async def settle(
        self,
        job: Job,
        attempt: Attempt,
        *,
        status: JobStatus,
        send_at: datetime | None = None,
        folded_into: str | None = None,
    ) -> None:
        """Record a try's outcome; `pending` with `send_at` schedules the next try."""
        update: dict[str, Any] = {
            "status": status,
            "lease_owner": None,
            "lease_until": None,
            "error": attempt.error,
        }
        if send_at is not None:
            update["send_at"] = send_at
        if folded_into is not None:
            update["folded_into"] = folded_into
        await self._jobs.update_one(
            {"_id": job.key},
            {
                "$set": update,
                "$inc": {"attempts": 1},
                "$push": {"log": attempt.model_dump(mode="python")},
            },
        )

    async def next_send_at(self, channel: OutboxChannel) -> datetime | None:
        doc = await self._jobs.find_one(
            {"channel": channel, "status": "pending"}, sort=[("send_at", ASCENDING)]
        )
        return doc["send_at"] if doc else None

    async def list(self, *, ticket_id: str | None = None, limit: int = 100) -> list[Job]:
        query: Document = {"ticket_id": ticket_id} if ticket_id else {}
        cursor = self._jobs.find(query).sort("created_at", DESCENDING).limit(limit)
        return [_job(doc) async for doc in cursor]
