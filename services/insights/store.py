"""Where the insights service keeps its facts: one document per ticket in MongoDB, behind the
`InsightsStore` port (its in-memory fake is `store_memory.MemoryInsightsStore`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from pymongo import ASCENDING, IndexModel, ReplaceOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from services.insights.domain.categories import Path
from services.insights.domain.drill import Drill
from services.insights.domain.facts import TicketFact
from services.insights.domain.surveys import Survey
from services.insights.domain.timers import Timer
from services.insights.store_agents import HOLDINGS, MongoAgents, Move
from shared.mongo import (
    DUPLICATE_KEY,
    EARLIEST,
    Document,
    Indexes,
    chunked,
    due_by,
    find_by_ids,
    insert_new,
)

FACTS = "facts"
TIMERS = "timers"
SURVEYS = "surveys"
MONTHLY = "monthly_reports"
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
        self,
        since: datetime,
        until: datetime,
        teams: frozenset[str] | None,
        drill: Drill | None = None,
    ) -> AsyncIterator[TicketFact]:
        """Tickets opened in [since, until), of these teams (None: every team); a store may
        leave out tickets `drill` would not select (the caller checks each it gets)."""
        ...

    async def category_counts(
        self, since: datetime, until: datetime, teams: frozenset[str] | None
    ) -> dict[Path, int]:
        """Tickets opened in [since, until) per (category, subcategory, item)."""
        ...

    async def any_opened_before(self, until: datetime) -> bool:
        """Whether any ticket at all opened before `until` (the desk had begun)."""
        ...

    async def forget_customer(self, ticket_ids: Sequence[str], customer_ids: Sequence[str]) -> int:
        """Drop the customer's id from their tickets' facts (an erasure); returns how many."""
        ...

    async def timers(self, ticket_ids: Iterable[str]) -> dict[str, Timer]:
        """The timers of these tickets, by timer id."""
        ...

    async def set_timers(self, timers: Sequence[Timer]) -> None:
        """Arm or disarm these timers (their due time and key; what fired stays)."""
        ...

    async def due_timers(self, now: datetime, limit: int) -> list[Timer]:
        """Timers due at `now`, earliest first."""
        ...

    async def next_due(self) -> datetime | None:
        """The earliest due time of any armed timer."""
        ...

    async def fired(self, timers: Sequence[Timer]) -> None:
        """Record that these timers fired for their keys, and disarm them."""
        ...

    async def offer_surveys(self, surveys: Sequence[Survey]) -> None:
        """Record surveys offered; one already recorded for a ticket stays as it is."""
        ...

    async def survey(self, ticket_id: str) -> Survey | None: ...

    async def reports_sent(self, keys: Sequence[str]) -> set[str]:
        """Which of these monthly reports (`manager:YYYY-MM`) were sent."""
        ...

    async def report_sent(self, keys: Sequence[str]) -> None: ...

    async def hold(self, moves: Sequence[Move]) -> None:
        """Record who holds each ticket open now, and keep each agent's count per channel up
        to date with it."""
        ...

    async def holdings(self, agents: Iterable[str]) -> dict[str, dict[str, int]]:
        """Tickets each agent holds open now, per channel (as counted by `hold`)."""
        ...

    async def recount(self, agents: Iterable[str]) -> dict[str, dict[str, int]]:
        """The same counted again from the tickets each agent holds (and kept so): for a
        signal about to be raised."""
        ...

    async def over_since(self, agents: Iterable[str]) -> dict[str, datetime]:
        """Since when each agent (of those over capacity) has been over."""
        ...

    async def set_over_since(self, changes: dict[str, datetime | None]) -> None: ...

    async def off_shift(self, replies: Sequence[tuple[str, str, datetime]]) -> dict[str, Document]:
        """Record replies outside a shift, (agent, day, at); each such day's first and last."""
        ...

    async def answer_survey(self, survey: Survey, answers_before: int) -> bool:
        """Save an answer if the survey still has `answers_before` answers (two clicks at once
        keep one); False if another answer came first."""
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


#: A drill-down's dimension, as the field that holds it (the category levels are paths).
_DIMENSION_FIELDS = {
    "team": "team", "agent": "agent_id", "channel": "channel", "language": "language",
    "priority": "priority", "tier": "tier", "plan": "plan", "category": "category",
}  # fmt: skip


def _narrowed(drill: Drill) -> Document:
    """The drill-down's conditions the database can check itself; the business-time ones are
    checked by the service on what this returns."""
    query: Document = {}
    if drill.group is not None and drill.dimension in _DIMENSION_FIELDS:
        query[_DIMENSION_FIELDS[drill.dimension]] = drill.group
    if drill.csat_at_most is not None:
        query["csat_score"] = {"$lte": drill.csat_at_most}
    if drill.transfers_at_least is not None:
        query["transfers"] = {"$gte": drill.transfers_at_least}
    if drill.reopened is not None:
        query["reopened"] = {"$gt": 0} if drill.reopened else 0
    if drill.resolved is not None:
        query["settled_at"] = {"$ne": None} if drill.resolved else None
    if drill.breached is not None:
        query[f"sla.{drill.breached}.outcome"] = "breached"
    return query


class MongoInsightsStore(MongoAgents):
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        super().__init__(db)
        self._facts = db[FACTS]
        self._timers = db[TIMERS]
        self._surveys = db[SURVEYS]
        self._monthly = db[MONTHLY]

    @staticmethod
    def indexes() -> list[Indexes]:
        return [
            Indexes(HOLDINGS, [IndexModel([("agent_id", ASCENDING)])]),
            Indexes(
                TIMERS,
                [IndexModel([("due_at", ASCENDING)]), IndexModel([("ticket_id", ASCENDING)])],
            ),
            Indexes(
                FACTS,
                [
                    # Every report reads a window of openings (a team's too: a team is a
                    # large share of a window, and each index costs every fact's write).
                    IndexModel([("opened_at", ASCENDING)]),
                    IndexModel([("settled_at", ASCENDING)]),
                    IndexModel([("customer_id", ASCENDING)]),
                ],
            ),
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
        self,
        since: datetime,
        until: datetime,
        teams: frozenset[str] | None,
        drill: Drill | None = None,
    ) -> AsyncIterator[TicketFact]:
        query = {"opened_at": {"$gte": since, "$lt": until}, **_teams(teams)}
        return self._read({**query, **(_narrowed(drill) if drill else {})})

    async def category_counts(
        self, since: datetime, until: datetime, teams: frozenset[str] | None
    ) -> dict[Path, int]:
        # Counted where the facts are: a month is tens of thousands of tickets, and the tree
        # needs only their paths.
        pipeline: list[Document] = [
            {"$match": {"opened_at": {"$gte": since, "$lt": until}, **_teams(teams)}},
            {"$group": {"_id": {"c": "$category", "s": "$subcategory", "i": "$item"},
                        "count": {"$sum": 1}}},
        ]  # fmt: skip
        cursor = await self._facts.aggregate(pipeline)
        return {
            (d["_id"].get("c"), d["_id"].get("s"), d["_id"].get("i")): d["count"]
            async for d in cursor
        }

    async def any_opened_before(self, until: datetime) -> bool:
        found = await self._facts.find_one(
            {"opened_at": {"$gte": EARLIEST, "$lt": until}}, {"_id": 1}
        )
        return found is not None

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

    # -- timers and surveys ----------------------------------------------------------------------

    async def timers(self, ticket_ids: Iterable[str]) -> dict[str, Timer]:
        # Not `find_by_ids`: that keys one document per value, and a ticket has several timers.
        wanted = list(dict.fromkeys(ticket_ids))
        out: dict[str, Timer] = {}
        for chunk in chunked(wanted):
            async for doc in self._timers.find({"ticket_id": {"$in": chunk}}):
                timer = Timer.from_document(doc)
                out[timer.timer_id] = timer
        return out

    async def set_timers(self, timers: Sequence[Timer]) -> None:
        def fields(t: Timer) -> Document:
            armed: Document = {"ticket_id": t.ticket_id, "kind": t.kind, "due_at": t.due_at}
            return {**armed, "key": t.key} if t.key is not None else armed

        writes = [UpdateOne({"_id": t.timer_id}, {"$set": fields(t)}, upsert=True) for t in timers]
        for chunk in chunked(writes):
            await self._timers.bulk_write(chunk, ordered=False)

    async def due_timers(self, now: datetime, limit: int) -> list[Timer]:
        cursor = self._timers.find({"due_at": due_by(now)}).sort("due_at", ASCENDING).limit(limit)
        return [Timer.from_document(doc) async for doc in cursor]

    async def next_due(self) -> datetime | None:
        doc = await self._timers.find_one(
            {"due_at": {"$gte": EARLIEST}}, {"due_at": 1}, sort=[("due_at", ASCENDING)]
        )
        return doc["due_at"] if doc else None

    async def fired(self, timers: Sequence[Timer]) -> None:
        writes = [
            UpdateOne(
                {"_id": t.timer_id},
                {"$set": {"due_at": None}, "$addToSet": {"fired": t.key}},
            )
            for t in timers
        ]
        for chunk in chunked(writes):
            await self._timers.bulk_write(chunk, ordered=False)

    async def offer_surveys(self, surveys: Sequence[Survey]) -> None:
        await insert_new(self._surveys, [s.to_document() for s in surveys])

    async def survey(self, ticket_id: str) -> Survey | None:
        doc = await self._surveys.find_one({"_id": ticket_id})
        return Survey.from_document(doc) if doc else None

    async def answer_survey(self, survey: Survey, answers_before: int) -> bool:
        result = await self._surveys.replace_one(
            {"_id": survey.ticket_id, "answers": answers_before}, survey.to_document()
        )
        return result.matched_count == 1

    async def reports_sent(self, keys: Sequence[str]) -> set[str]:
        return set(await find_by_ids(self._monthly, keys))

    async def report_sent(self, keys: Sequence[str]) -> None:
        await insert_new(self._monthly, [{"_id": key} for key in keys])
