"""The SLA service's MongoDB adapter: one document per ticket, and one per finished target.

A ticket's document holds its clocks and `next_at`, the next moment its timer must fire,
beside the Kafka partition of the ticket: a replica loads only its partitions' `next_at`
values (two small fields each), and reads the whole document when one fires. Writes are
compare-and-set on a revision number, so two replicas briefly owning one partition during a
rebalance cannot both move the same ticket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.sla.domain import Finished, TicketSla
from shared.mongo import Document, Indexes

TICKETS = "tickets"
RESULTS = "results"


class Armed(NamedTuple):
    """A ticket as the timer holds it: when to look at it next, and which partition owns it."""

    ticket_id: str
    next_at: datetime
    partition: int | None
    version: str


class SlaStore(Protocol):
    async def get(self, ticket_id: str) -> tuple[TicketSla, int] | None: ...
    async def save(self, ticket: TicketSla, revision: int | None) -> bool: ...
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


def _document(ticket: TicketSla, revision: int) -> Document:
    doc: Document = _plain(ticket.model_dump())
    doc["_id"] = ticket.ticket_id
    doc["revision"] = revision
    return doc


class MongoSlaStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._tickets = db[TICKETS]
        self._results = db[RESULTS]

    @staticmethod
    def indexes() -> list[Indexes]:
        return [
            Indexes(TICKETS, [IndexModel([("partition", ASCENDING), ("next_at", ASCENDING)])]),
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

    async def save(self, ticket: TicketSla, revision: int | None) -> bool:
        """Insert (revision None) or replace the revision read; False if another won."""
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
        """What the timer needs of every armed ticket of these partitions, streamed."""
        query = {"partition": {"$in": sorted(set(partitions))}, "next_at": {"$ne": None}}
        projection = {"next_at": 1, "version": 1, "partition": 1}
        async for doc in self._tickets.find(query, projection, batch_size=10_000):
            yield Armed(doc["_id"], doc["next_at"], doc["partition"], doc.get("version") or "")

    async def results(self, query: Document) -> list[Document]:
        return [doc async for doc in self._results.find(query, {"_id": 0})]
