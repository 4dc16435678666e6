"""The SLA service's MongoDB adapter: tickets, the timer index, and finished targets.

A ticket's document holds its clocks and `next_at`, the next moment its timer must fire,
with the Kafka partition of the ticket. Writes are compare-and-set on a revision number, so
two replicas briefly owning one partition during a rebalance cannot both move one ticket.

The timer index (`timers`) repeats each armed ticket's `next_at` in buckets: one document per
partition and bucket, mapping ticket ids to their next moment. A replica that is assigned a
partition reads its few thousand bucket documents instead of every ticket document, which
is what makes reloading a million deadlines take seconds. The index is written before the
ticket: a crash in between leaves an entry that fires early (and finds nothing due) or late
for an input that is then redelivered and decided again, never a deadline with no entry.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Protocol

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.sla.domain import Finished, TicketSla
from shared.mongo import Document, Indexes

TICKETS = "tickets"
RESULTS = "results"
TIMERS = "timers"
#: Buckets of the timer index per partition: a few hundred entries each per million tickets.
BUCKETS = 1024


class Armed(NamedTuple):
    """A ticket as the timer holds it: when to look at it next, and which partition owns it."""

    ticket_id: str
    next_at: datetime
    partition: int | None
    version: str


class SlaStore(Protocol):
    async def get(self, ticket_id: str) -> tuple[TicketSla, int] | None: ...
    async def save(
        self, ticket: TicketSla, revision: int | None, *, before: TicketSla | None = None
    ) -> bool: ...
    async def record(self, finished: Iterable[Finished]) -> None: ...
    def armed_in(self, partitions: Iterable[int]) -> AsyncIterator[Armed]: ...
    async def results(self, query: Document) -> list[Document]: ...


def _plain(value: Any) -> Any:
    """BSON has no durations: they are stored as seconds."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def timer_bucket(partition: int | None, ticket_id: str) -> str:
    """The timer-index document a ticket's entry lives in."""
    return f"{partition}:{zlib.crc32(ticket_id.encode()) % BUCKETS}"


def timer_field(ticket_id: str) -> str:
    """A ticket id as a field name: MongoDB gives `.` and a leading `$` a meaning of their own."""
    return ticket_id.replace("%", "%25").replace(".", "%2E").replace("$", "%24")


def ticket_of_field(field: str) -> str:
    return field.replace("%24", "$").replace("%2E", ".").replace("%25", "%")


def timer_entry(ticket: TicketSla) -> list[Any]:
    """What the index keeps of an armed ticket: its next moment (epoch ms) and policy version."""
    assert ticket.next_at is not None
    return [round(ticket.next_at.timestamp() * 1000), ticket.version or ""]


def _document(ticket: TicketSla, revision: int) -> Document:
    doc: Document = _plain(ticket.model_dump())
    doc["_id"] = ticket.ticket_id
    doc["revision"] = revision
    return doc


class MongoSlaStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._tickets = db[TICKETS]
        self._results = db[RESULTS]
        self._timers = db[TIMERS]

    @staticmethod
    def indexes() -> list[Indexes]:
        return [
            Indexes(TIMERS, [IndexModel([("partition", ASCENDING)])]),
            Indexes(
                RESULTS,
                [
                    IndexModel([("decided_at", ASCENDING)]),
                    IndexModel([("metric", ASCENDING), ("team", ASCENDING)]),
                ],
            ),
        ]

    async def get(self, ticket_id: str) -> tuple[TicketSla, int] | None:
        doc = await self._tickets.find_one({"_id": ticket_id})
        if doc is None:
            return None
        revision = int(doc.pop("revision", 0))
        doc.pop("_id", None)
        return TicketSla.model_validate(doc), revision

    async def save(
        self, ticket: TicketSla, revision: int | None, *, before: TicketSla | None = None
    ) -> bool:
        """Insert (revision None) or replace the revision read; False if another won.

        `before` is the ticket as read: its timer entry is rewritten only if it moved.
        """
        await self._index(ticket, before)
        if revision is None:
            try:
                await self._tickets.insert_one(_document(ticket, 1))
            except DuplicateKeyError:
                return False
            return True
        result = await self._tickets.replace_one(
            {"_id": ticket.ticket_id, "revision": revision}, _document(ticket, revision + 1)
        )
        return result.matched_count == 1

    async def _index(self, ticket: TicketSla, before: TicketSla | None) -> None:
        armed = (ticket.next_at, ticket.version, ticket.partition)
        if before is not None and armed == (before.next_at, before.version, before.partition):
            return
        field = f"entries.{timer_field(ticket.ticket_id)}"
        if before is not None and before.partition != ticket.partition:
            await self._timers.update_one(
                {"_id": timer_bucket(before.partition, ticket.ticket_id)}, {"$unset": {field: ""}}
            )
        bucket = {"_id": timer_bucket(ticket.partition, ticket.ticket_id)}
        if ticket.next_at is None:
            if before is None or before.next_at is not None:
                await self._timers.update_one(bucket, {"$unset": {field: ""}})
            return
        await self._timers.update_one(
            bucket,
            {"$set": {field: timer_entry(ticket), "partition": ticket.partition}},
            upsert=True,
        )

    async def record(self, finished: Iterable[Finished]) -> None:
        """Keep each finished target for the compliance report (a repeat overwrites itself)."""
        for item in finished:
            ticket, clock = item.ticket, item.clock
            decided = clock.breached_at or clock.satisfied_at
            doc = {
                "ticket_id": ticket.ticket_id,
                "metric": clock.metric,
                "cycle": clock.cycle,
                "outcome": "breached" if clock.breached_at is not None else "met",
                "team": ticket.team,
                "priority": ticket.priority,
                "category": ticket.category,
                "plan": ticket.plan,
                "policy": ticket.policy,
                "calendar": ticket.calendar,
                "target_seconds": clock.target.total_seconds(),
                "used_seconds": clock.used.total_seconds() if not clock.open else None,
                "started_at": clock.started_at,
                "due_at": clock.due_at,
                "decided_at": decided,
                "satisfied_at": clock.satisfied_at,
            }
            key = f"{ticket.ticket_id}:{clock.metric}:{clock.cycle}"
            await self._results.update_one({"_id": key}, {"$set": doc}, upsert=True)

    async def armed_in(self, partitions: Iterable[int]) -> AsyncIterator[Armed]:
        """Every armed ticket of these partitions, from the timer index, streamed."""
        query = {"partition": {"$in": sorted(set(partitions))}}
        async for doc in self._timers.find(query, batch_size=64):
            partition = doc["partition"]
            for field, (epoch_ms, version) in doc.get("entries", {}).items():
                due = datetime.fromtimestamp(epoch_ms / 1000, UTC)
                yield Armed(ticket_of_field(field), due, partition, version)

    async def results(self, query: Document) -> list[Document]:
        return [doc async for doc in self._results.find(query, {"_id": 0})]
