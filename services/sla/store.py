"""The SLA service's MongoDB adapter: tickets, the timer index, and finished targets.

A ticket's document holds its clocks and `next_at`, the next moment its timer must fire,
with the Kafka partition of the ticket and the timer-index bucket that repeats that moment
(`timer_index.py`). Writes are compare-and-set on a revision number, so two replicas briefly
owning one partition during a rebalance cannot both move one ticket; each save also stamps
the document with a token of its own, so a bulk save that lost some races finds which.

A batch is saved in three bulk writes: the finished targets and the timer index first, then
the tickets. A crash in between leaves an index entry that fires early (and finds nothing
due) or late for an input that is then redelivered and decided again, never a deadline
with no entry; and a finished target recorded for a ticket saved later, never the reverse.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Protocol

from pymongo import ASCENDING, DeleteOne, IndexModel, InsertOne, ReplaceOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from services.sla.domain.ticket import Finished, TicketSla
from services.sla.timer_index import Homes, TimerPlan, ticket_of_field
from shared.mongo import DUPLICATE_KEY, Document, Indexes, find_by_ids

TICKETS = "tickets"
RESULTS = "results"
TIMERS = "timers"
#: Fields of a ticket's document that are the store's, not the domain's.
HOME, WRITER = "timer", "writer"


class Armed(NamedTuple):
    """A ticket as the timer holds it: when to look at it next, and which partition owns it."""

    ticket_id: str
    next_at: datetime
    partition: int | None
    version: str


class Stored(NamedTuple):
    """A ticket as read: its revision, and the timer-index bucket its entry lives in (None: the
    hashed bucket of a ticket stored by an earlier version)."""

    ticket: TicketSla
    revision: int
    home: str | None = None


@dataclass(frozen=True)
class Save:
    """One ticket to save over what was read (`before`; None: a new ticket)."""

    ticket: TicketSla
    before: Stored | None
    finished: Sequence[Finished] = ()
    #: An attempt that lost a race came first; `stray`: the bucket it wrote the entry into.
    redo: bool = False
    stray: str | None = None


@dataclass
class Saved:
    """What a bulk save did: the tickets saved, and those another writer saved first (with the
    bucket this attempt wrote their entry into, to clear when they are redone)."""

    saved: dict[str, Stored] = field(default_factory=dict)
    lost: dict[str, str | None] = field(default_factory=dict)


class SlaStore(Protocol):
    async def load(self, ticket_ids: Iterable[str]) -> dict[str, Stored]: ...
    async def save_all(self, saves: Sequence[Save]) -> Saved: ...
    def armed_in(self, partitions: Iterable[int]) -> AsyncIterator[Armed]: ...
    async def results(
        self,
        since: datetime,
        until: datetime,
        *,
        metric: str | None = None,
        team: str | None = None,
        priority: str | None = None,
        teams: Collection[str] | None = None,
    ) -> list[Document]: ...


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


def _stored(doc: Document) -> Stored:
    doc = dict(doc)
    doc.pop("_id", None)
    doc.pop(WRITER, None)
    home = doc.pop(HOME, None)
    revision = int(doc.pop("revision", 0))
    return Stored(TicketSla.model_validate(doc), revision, home)


def result_key(item: Finished) -> str:
    return f"{item.ticket.ticket_id}:{item.clock.metric}:{item.clock.cycle}"


def result_of(item: Finished) -> Document:
    """A finished target as the compliance report reads it."""
    ticket, clock = item.ticket, item.clock
    return {
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
        "decided_at": clock.breached_at or clock.satisfied_at,
        "satisfied_at": clock.satisfied_at,
    }


def results_query(
    since: datetime,
    until: datetime,
    *,
    metric: str | None = None,
    team: str | None = None,
    priority: str | None = None,
    teams: Collection[str] | None = None,
) -> Document:
    """Results decided in [since, until), narrowed by metric, team, priority, and to `teams`
    (the teams a lead or manager sees) when given."""
    query: Document = {"decided_at": {"$gte": since, "$lt": until}}
    for name, value in (("metric", metric), ("team", team), ("priority", priority)):
        if value is not None:
            query[name] = value
    if teams is not None:
        query["team"] = {"$in": sorted(set(teams) & ({team} if team else set(teams)))}
    return query


class MongoSlaStore:
    def __init__(self, db: AsyncDatabase[Document], *, homes: Homes | None = None) -> None:
        self._tickets = db[TICKETS]
        self._results = db[RESULTS]
        self._timers = db[TIMERS]
        self._homes = homes or Homes()

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

    async def load(self, ticket_ids: Iterable[str]) -> dict[str, Stored]:
        """The stored tickets among these ids, in chunked reads."""
        found = await find_by_ids(self._tickets, ticket_ids)
        return {ticket_id: _stored(doc) for ticket_id, doc in found.items()}

    async def save_all(self, saves: Sequence[Save]) -> Saved:
        """Record the finished targets and the timer index, then insert or compare-and-set
        every ticket; a ticket another writer saved first is reported lost, not written."""
        if not saves:
            return Saved()
        plan = TimerPlan(self._homes)
        homes: dict[str, str | None] = {}
        results: dict[str, Document] = {}
        for save in saves:
            before = save.before
            homes[save.ticket.ticket_id] = plan.place(
                save.ticket,
                before.ticket if before else None,
                before.home if before else None,
                stray=save.stray,
                redo=save.redo,
            )
            for item in save.finished:
                results[result_key(item)] = result_of(item)
        # Both before the tickets (see the module's docstring); one waits for the other.
        await asyncio.gather(self._write_results(results), self._write_timers(plan))
        lost = await self._write_tickets(saves, homes)
        outcome = Saved()
        for save in saves:
            ticket_id = save.ticket.ticket_id
            if ticket_id in lost:
                outcome.lost[ticket_id] = plan.written.get(ticket_id)
                continue
            revision = save.before.revision + 1 if save.before else 1
            outcome.saved[ticket_id] = Stored(save.ticket, revision, homes[ticket_id])
        return outcome

    async def _write_results(self, results: dict[str, Document]) -> None:
        """Each finished target once (a repeat overwrites itself)."""
        if results:
            writes = [UpdateOne({"_id": k}, {"$set": d}, upsert=True) for k, d in results.items()]
            await self._results.bulk_write(writes, ordered=False)

    async def _write_timers(self, plan: TimerPlan) -> None:
        """One bulk write: each bucket's update, then the deletion of those left empty (in
        order, so a deletion sees the update before it)."""
        writes: list[UpdateOne | DeleteOne] = [*plan.writes()]
        writes += [DeleteOne({"_id": bucket, "entries": {}}) for bucket in plan.emptied()]
        if writes:
            await self._timers.bulk_write(writes, ordered=True)

    async def _write_tickets(self, saves: Sequence[Save], homes: dict[str, str | None]) -> set[str]:
        """Write every ticket in one bulk write; the ids another writer saved first."""
        writer = secrets.token_hex(8)
        writes: list[InsertOne[Document] | ReplaceOne[Document]] = []
        for save in saves:
            ticket_id = save.ticket.ticket_id
            doc = _document(save.ticket, save.before.revision + 1 if save.before else 1)
            doc[HOME], doc[WRITER] = homes[ticket_id], writer
            if save.before is None:
                writes.append(InsertOne(doc))
            else:
                query = {"_id": ticket_id, "revision": save.before.revision}
                writes.append(ReplaceOne(query, doc))
        lost: set[str] = set()
        try:
            result = await self._tickets.bulk_write(writes, ordered=False)
            matched = result.matched_count
        except BulkWriteError as exc:
            details = exc.details
            for error in details.get("writeErrors", []):
                if error.get("code") != DUPLICATE_KEY:
                    raise
                lost.add(saves[error["index"]].ticket.ticket_id)  # inserted by another first
            matched = int(details.get("nMatched", 0))
        replaced = [s.ticket.ticket_id for s in saves if s.before is not None]
        if matched < len(replaced):
            # Some compare-and-sets found another revision: which ones, the token says.
            found = await find_by_ids(self._tickets, replaced, {WRITER: 1})
            lost |= {t for t in replaced if found.get(t, {}).get(WRITER) != writer}
        return lost

    async def armed_in(self, partitions: Iterable[int]) -> AsyncIterator[Armed]:
        """Every armed ticket of these partitions, from the timer index, streamed."""
        query = {"partition": {"$in": sorted(set(partitions))}}
        async for doc in self._timers.find(query, batch_size=64):
            partition = doc["partition"]
            for name, (epoch_ms, version) in doc.get("entries", {}).items():
                due = datetime.fromtimestamp(epoch_ms / 1000, UTC)
                yield Armed(ticket_of_field(name), due, partition, version)

    async def results(
        self,
        since: datetime,
        until: datetime,
        *,
        metric: str | None = None,
        team: str | None = None,
        priority: str | None = None,
        teams: Collection[str] | None = None,
    ) -> list[Document]:
        query = results_query(
            since, until, metric=metric, team=team, priority=priority, teams=teams
        )
        return [doc async for doc in self._results.find(query, {"_id": 0})]
