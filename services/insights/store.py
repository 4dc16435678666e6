"""Where the insights service keeps its facts: one document per ticket in MongoDB, behind the
`InsightsStore` port (its in-memory fake is `store_memory.MemoryInsightsStore`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from pymongo import ASCENDING, IndexModel, ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from services.insights.domain.facts import TicketFact
from shared.mongo import DUPLICATE_KEY, Document, Indexes, chunked, find_by_ids

FACTS = "facts"
#: Left out of report reads: only the fold needs them.
_FOLD_ONLY = {"applied": 0}


class LostRace(Exception):
    """Another replica saved one of these facts first (a rebalance): the batch is read and
    folded again. Not the record's fault, so never dead-lettered."""


class InsightsStore(Protocol):
    async def facts(self, ticket_ids: Iterable[str]) -> dict[str, TicketFact]:
        """The facts of these tickets, in one read per chunk."""
        ...

    async def save(self, facts: Sequence[TicketFact]) -> None:
        """Write the facts in one bulk write, each only if its `version` is still the stored
        one; raises `LostRace` if any was not."""
        ...

    def open_during(
        self, since: datetime, until: datetime, teams: frozenset[str] | None
    ) -> AsyncIterator[TicketFact]:
        """Tickets opened before `until` and not resolved before `since` (open at some point of
        the window), of these teams (None: every team)."""
        ...

    def opened_between(
        self, since: datetime, until: datetime, teams: frozenset[str] | None
    ) -> AsyncIterator[TicketFact]:
        """Tickets opened in [since, until), of these teams (None: every team)."""
        ...

    async def forget_customer(self, ticket_ids: Sequence[str], customer_ids: Sequence[str]) -> int:
        """Drop the customer's id from their tickets' facts (an erasure); returns how many."""
        ...


def to_document(fact: TicketFact) -> Document:
    doc = fact.model_dump(mode="python")
    doc["_id"] = doc.pop("ticket_id")
    doc["version"] = fact.version + 1
    # Stored for the window query: see `TicketFact.settled_at`.
    doc["settled_at"] = fact.settled_at
    return doc


def from_document(doc: Document) -> TicketFact:
    doc = dict(doc)
    doc["ticket_id"] = doc.pop("_id")
    doc.pop("settled_at", None)
    return TicketFact.model_validate(doc)


def _teams(teams: frozenset[str] | None) -> Document:
    return {} if teams is None else {"team": {"$in": sorted(teams)}}


class MongoInsightsStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._facts = db[FACTS]

    @staticmethod
    def indexes() -> list[Indexes]:
        return [
            Indexes(
                FACTS,
                [
                    IndexModel([("opened_at", ASCENDING)]),
                    IndexModel([("settled_at", ASCENDING)]),
                    IndexModel([("team", ASCENDING), ("opened_at", ASCENDING)]),
                    IndexModel([("customer_id", ASCENDING)]),
                ],
            )
        ]

    async def facts(self, ticket_ids: Iterable[str]) -> dict[str, TicketFact]:
        found = await find_by_ids(self._facts, ticket_ids)
        return {ticket_id: from_document(doc) for ticket_id, doc in found.items()}

    async def save(self, facts: Sequence[TicketFact]) -> None:
        # The filter names the version read: a fact saved meanwhile matches nothing, and the
        # upsert then collides with it on `_id` (duplicate key), which is the lost race.
        writes = [
            ReplaceOne({"_id": f.ticket_id, "version": f.version}, to_document(f), upsert=True)
            for f in facts
        ]
        for chunk in chunked(writes):
            try:
                await self._facts.bulk_write(chunk, ordered=False)
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if errors and all(e.get("code") == DUPLICATE_KEY for e in errors):
                    raise LostRace(f"{len(errors)} facts were saved by another replica") from exc
                raise

    async def _read(self, query: Document) -> AsyncIterator[TicketFact]:
        async for doc in self._facts.find(query, _FOLD_ONLY).batch_size(1000):
            yield from_document(doc)

    def open_during(
        self, since: datetime, until: datetime, teams: frozenset[str] | None
    ) -> AsyncIterator[TicketFact]:
        query: dict[str, Any] = {
            "opened_at": {"$lt": until},
            "$or": [{"settled_at": None}, {"settled_at": {"$gte": since}}],
            **_teams(teams),
        }
        return self._read(query)

    def opened_between(
        self, since: datetime, until: datetime, teams: frozenset[str] | None
    ) -> AsyncIterator[TicketFact]:
        return self._read({"opened_at": {"$gte": since, "$lt": until}, **_teams(teams)})

    async def forget_customer(self, ticket_ids: Sequence[str], customer_ids: Sequence[str]) -> int:
        result = await self._facts.update_many(
            {
                "$or": [
                    {"_id": {"$in": list(ticket_ids)}},
                    {"customer_id": {"$in": list(customer_ids)}},
                ]
            },
            # A new version, so a fold that read the fact before the erasure loses its race.
            {"$set": {"customer_id": None}, "$inc": {"version": 1}},
        )
        return result.modified_count
