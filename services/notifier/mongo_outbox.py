"""The outbox and delivery log in MongoDB (collection `deliveries`): one job per email or
webhook call, its `_id` the delivery key, so an event handled twice enqueues nothing twice.

A replica takes a due job with a lease and sends it; one that dies mid-delivery leaves the
lease to run out and the job to be taken again. A sent message is therefore sent at least
once and, in effect, once: the repeat carries the same Message-ID (email) or
`X-Helpdesk-Delivery` (webhook), by which the receiver drops it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.notifier.domain.deliveries import (
    Job,
    OutboxChannel,
    Settlement,
)
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


def _settling(settlement: Settlement) -> UpdateOne:
    update: dict[str, Any] = {
        "status": settlement.status,
        "lease_owner": None,
        "lease_until": None,
        "lease_token": None,
        "error": settlement.attempt.error,
    }
    if settlement.send_at is not None:
        update["send_at"] = settlement.send_at
    if settlement.folded_into is not None:
        update["folded_into"] = settlement.folded_into
    return UpdateOne(
        {"_id": settlement.key},
        {
            "$set": update,
            "$inc": {"attempts": 1},
            "$push": {"log": settlement.attempt.model_dump(mode="python")},
        },
    )


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

    async def due_keys(self, channel: OutboxChannel, *, now: datetime, limit: int) -> list[str]:
        keys: list[str] = []
        for due in _due(now):
            if len(keys) < limit:
                cursor = (
                    self._jobs.find({"channel": channel, **due}, {"_id": 1})
                    .sort("send_at", ASCENDING)
                    .limit(limit - len(keys))
                )
                keys += [str(doc["_id"]) async for doc in cursor]
        return keys

    async def claim(
        self, keys: Sequence[str], *, now: datetime, owner: str, lease: timedelta
    ) -> list[Job]:
        """Lease those of the jobs that are due, in writes by key whatever the batch: each write
        leases the keys still due and marks them with a fresh token, and one read by key brings
        back what they leased. A job another replica leased first is not matched, so each job
        goes to one replica. Not `findAndModify`: it claims one job a trip, and on the local
        server a matched one costs a scan of the whole delivery log."""
        keys = list(dict.fromkeys(keys))
        if not keys:
            return []
        token = uuid.uuid4().hex
        leasing = {
            "status": "leased",
            "lease_owner": owner,
            "lease_until": now + lease,
            "lease_token": token,
        }
        leased = 0
        for due in _due(now):
            # `_id` first: the server serves the filter from the `_id` index, not by a scan.
            result = await self._jobs.update_many({"_id": {"$in": keys}, **due}, {"$set": leasing})
            leased += result.modified_count
            if leased == len(keys):
                break  # all were pending: none can be a lease that ran out
        if not leased:
            return []
        cursor = self._jobs.find({"_id": {"$in": keys}, "lease_token": token})
        return sorted([_job(doc) async for doc in cursor], key=lambda j: (j.send_at, j.key))

    async def take_folding(
        self, job: Job, *, now: datetime, owner: str, lease: timedelta, limit: int = 50
    ) -> list[Job]:
        if not job.fold_key:
            return []
        keys: list[str] = []
        for due in _due(now):
            if len(keys) < limit:
                query = {"fold_key": job.fold_key, **due}
                cursor = (
                    self._jobs.find(query, {"_id": 1}).sort("send_at", ASCENDING).limit(limit + 1)
                )
                keys += [str(doc["_id"]) async for doc in cursor if doc["_id"] != job.key]
        return await self.claim(keys[:limit], now=now, owner=owner, lease=lease)

    async def settle_many(self, settlements: Sequence[Settlement]) -> None:
        writes = [_settling(settlement) for settlement in settlements]
        if writes:
            await self._jobs.bulk_write(writes, ordered=False)

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
