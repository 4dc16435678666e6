"""The outbox and delivery log in MongoDB (collection `deliveries`): one job per email or
webhook call, its `_id` the delivery key, so an event handled twice enqueues nothing twice.

A replica takes a due job with a lease and sends it; one that dies mid-delivery leaves the
lease to run out and the job to be taken again. A sent message is therefore sent at least
once and, in effect, once: the repeat carries the same Message-ID (email) or
`X-Helpdesk-Delivery` (webhook), by which the receiver drops it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.notifier.domain.deliveries import Attempt, Job, JobStatus, OutboxChannel
from shared.mongo import Document, Indexes, insert_new

COLLECTION = "deliveries"


def _doc(job: Job) -> Document:
    doc = job.model_dump(mode="python", exclude={"key"})
    doc["_id"] = job.key
    return doc


def _job(doc: Document) -> Job:
    return Job.model_validate({**doc, "key": doc["_id"]})


def _due(now: datetime) -> list[Document]:
    """The two ways a job is due: pending and its time has come, or leased by a replica that
    let its lease run out. Two queries, not one `$or`: each is served by its own index, and a
    query with `$or` may scan the whole collection, which is the delivery log and only grows."""
    return [
        {"status": "pending", "send_at": {"$lte": now}},
        {"status": "leased", "lease_until": {"$lte": now}},
    ]


class MongoOutbox:
    _jobs: AsyncCollection[Document]

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._jobs = db[COLLECTION]

    @staticmethod
    def outbox_indexes() -> list[Indexes]:
        # Sent jobs stay as the delivery log: every read goes by status or by a key.
        return [
            Indexes(
                COLLECTION,
                [
                    IndexModel([("channel", ASCENDING), ("status", ASCENDING), ("send_at", 1)]),
                    IndexModel([("channel", ASCENDING), ("status", ASCENDING), ("lease_until", 1)]),
                    IndexModel([("fold_key", ASCENDING), ("send_at", DESCENDING)]),
                    IndexModel([("fold_key", ASCENDING), ("status", ASCENDING), ("send_at", 1)]),
                    IndexModel([("ticket_id", ASCENDING), ("created_at", DESCENDING)]),
                    IndexModel([("created_at", DESCENDING)]),
                ],
            )
        ]

    async def enqueue(self, jobs: Sequence[Job]) -> set[str]:
        return {str(key) for key in await insert_new(self._jobs, [_doc(job) for job in jobs])}

    async def last_slots(self, fold_keys: Iterable[str]) -> dict[str, datetime | None]:
        # One indexed read of one document per person and channel of the batch's digestible
        # messages (rare: warnings), whatever their history holds.
        slots: dict[str, datetime | None] = {}
        for fold_key in dict.fromkeys(fold_keys):
            doc = await self._jobs.find_one(
                {"fold_key": fold_key}, {"send_at": 1}, sort=[("send_at", DESCENDING)]
            )
            slots[fold_key] = doc["send_at"] if doc else None
        return slots

    async def take(
        self, channel: OutboxChannel, *, now: datetime, owner: str, lease: timedelta
    ) -> Job | None:
        for due in _due(now):
            doc = await self._jobs.find_one_and_update(
                {"channel": channel, **due},
                {"$set": {"status": "leased", "lease_owner": owner, "lease_until": now + lease}},
                sort=[("send_at", ASCENDING)],
                return_document=ReturnDocument.AFTER,
            )
            if doc is not None:
                return _job(doc)
        return None

    async def take_folding(
        self, job: Job, *, now: datetime, owner: str, lease: timedelta, limit: int = 50
    ) -> list[Job]:
        taken: list[Job] = []
        for due in _due(now):
            while job.fold_key and len(taken) < limit:
                doc = await self._jobs.find_one_and_update(
                    {"fold_key": job.fold_key, "_id": {"$ne": job.key}, **due},
                    {
                        "$set": {
                            "status": "leased",
                            "lease_owner": owner,
                            "lease_until": now + lease,
                        }
                    },
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

    async def next_send_at(self, channel: OutboxChannel, before: datetime) -> datetime | None:
        """The earliest pending job due by `before`: bounded, so that jobs waiting for working
        hours or a digest slot (many, later) are not read each time the worker looks."""
        doc = await self._jobs.find_one(
            {"channel": channel, "status": "pending", "send_at": {"$lte": before}},
            sort=[("send_at", ASCENDING)],
        )
        return doc["send_at"] if doc else None

    async def jobs(self, *, ticket_id: str | None = None, limit: int = 100) -> list[Job]:
        query: Document = {"ticket_id": ticket_id} if ticket_id else {}
        cursor = self._jobs.find(query).sort("created_at", DESCENDING).limit(limit)
        return [_job(doc) async for doc in cursor]
