"""The router's MongoDB adapter, behind one Protocol: routed tickets and queues, agents' presence
and load, and what the router remembers of each customer; bulk methods for the batch handlers.

An agent's load is a counter per channel on the agent's document (`load.<channel>`), never a
list of the tickets held (those come from the routed tickets, indexed by agent). A claim adds
to it only while it stays within capacity, in one conditional update, so replicas racing for
the last slot cannot both win. What makes a counter safe to redo is the agent's short list of
changes in flight (`slots`), each keyed `ticket|base|sign|cause` (`domain/slots.py`):

- A change is applied with its key, in the same atomic update, only if the key is absent: a
  claim or release redone after a crash (same input, same ticket revision, same key) counts
  once. Different inputs racing on one ticket make different keys and may both apply.
- The ticket is then saved over the revision it was read at (`base`), with the keys of the
  changes this save makes final in its record (`slot_changes`). Only one save from `base` can
  win, so once the ticket is past `base` it is settled for good which changes from `base`
  count: those in that save's record.
- Then the keys are pulled from the list (`settle_slots`): the count stays. Changes the save
  did not include (the loser of a race, a choice made again differently) are undone: the
  counter reversed and the key pulled in one update, conditional on the key, so an undo
  happens once whoever does it.
- A crash anywhere leaves keys in the list. The offset was not committed, so the input comes
  again and finds them: at the same revision it decides the same (a claimed slot makes
  `choose` keep its holder, a release's key makes it a no-op) and saves and settles; past it,
  `fate` settles or undoes each by the saved record. Whoever reads an agent later does the
  same for keys older than a batch can take (`Roster`, the sweep), so the list holds only
  what is in flight: a few keys a batch, not a ticket an agent holds.
- Two limits, both far from what happens: a key whose ticket never moved past its base and
  that no input redid within an hour is undone (no input is retried that long); and a key
  older than the record's last `KEPT_SAVES` saves errs towards a slot too many, never towards
  an agent over capacity.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from pymongo import ASCENDING, IndexModel, ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase

from services.router.domain.slots import SlotChange
from services.router.domain.tickets import QUEUE_SORT, RoutedTicket
from services.router.store_agents import MongoAgents
from services.router.triaging import customers_merged
from shared.events import Presence, QueueOrder
from shared.mongo import Document, Indexes, due_by, find_by_ids, insert_new

TICKETS = "routed_tickets"
AGENTS = "agents"
CUSTOMERS = "customers"

#: A ticket as stored, with the revision it was saved at.
Stored = tuple[RoutedTicket, int]


def ticket_doc(ticket: RoutedTicket, revision: int, saved_by: str | None = None) -> Document:
    doc = ticket.model_dump(mode="python")
    doc["_id"] = doc.pop("ticket_id")
    # Stored beside the record so a queue is one indexed, sorted read.
    doc.update(
        priority_rank=ticket.priority_rank,
        difficulty_rank=ticket.difficulty_rank,
        tier_rank=ticket.tier_rank,
        revision=revision,
        saved_by=saved_by,
    )
    return doc


def ticket_of(doc: Document) -> Stored:
    fields = {k: v for k, v in doc.items() if k in RoutedTicket.model_fields}
    return RoutedTicket(ticket_id=doc["_id"], **fields), int(doc.get("revision", 0))


class RoutingStore(Protocol):
    # -- routed tickets
    async def ticket(self, ticket_id: str) -> Stored | None: ...
    async def tickets(self, ticket_ids: Iterable[str]) -> dict[str, Stored]: ...
    async def create_ticket(self, ticket: RoutedTicket) -> Stored: ...
    async def insert_tickets(self, tickets: Sequence[RoutedTicket]) -> set[str]: ...
    async def save_ticket(self, ticket: RoutedTicket, revision: int) -> bool: ...
    async def save_tickets(self, saves: Sequence[Stored]) -> set[str]: ...
    async def queued(
        self, team: str, order: QueueOrder, limit: int, skip: int = 0
    ) -> list[Stored]: ...
    async def queue_teams(self) -> list[str]: ...
    async def due_acknowledgements(self, now: datetime, limit: int) -> list[RoutedTicket]: ...
    async def passed_around(
        self, at_least: int, limit: int, teams: Collection[str] | None = None
    ) -> list[RoutedTicket]: ...
    async def held_by(self, agent_id: str, limit: int) -> list[RoutedTicket]: ...
    # -- agents
    async def agent_records(self, agent_ids: Iterable[str]) -> dict[str, Document]: ...
    async def agents_in_flight(self) -> dict[str, Document]: ...
    async def prepare_agents(self, agent_ids: Iterable[str]) -> None: ...
    async def change_slots(self, changes: Sequence[SlotChange]) -> set[str]: ...
    async def settle_slots(
        self, settled: Sequence[SlotChange], undone: Sequence[SlotChange]
    ) -> None: ...
    async def set_presence(self, agent_id: str, presence: Presence, at: datetime) -> bool: ...
    # -- customers
    async def customer(self, customer_id: str) -> Document | None: ...
    async def customers(self, customer_ids: Iterable[str]) -> dict[str, Document]: ...
    async def save_customers(self, records: Mapping[str, Document]) -> None: ...
    async def merge_customer(self, survivor_id: str, merged_id: str) -> None: ...
    async def erase_customers(self, customer_ids: Sequence[str]) -> None: ...


class MongoRoutingStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._tickets = db[TICKETS]
        self._customers = db[CUSTOMERS]
        self.agents = MongoAgents(db[AGENTS])

    @staticmethod
    def indexes() -> list[Indexes]:
        queues = [
            IndexModel([("team", ASCENDING), ("state", ASCENDING)] + [(f, ASCENDING) for f in sort])
            for sort in QUEUE_SORT.values()
        ]
        acks = IndexModel([("state", ASCENDING), ("acknowledged", ASCENDING), ("ack_due_at", 1)])
        teams_waiting = IndexModel([("state", ASCENDING), ("team", ASCENDING)])
        held = IndexModel([("agent_id", ASCENDING), ("state", ASCENDING)])
        transfers = IndexModel([("transfer_count", ASCENDING)])
        return [Indexes(TICKETS, [*queues, acks, teams_waiting, held, transfers])]

    # -- routed tickets ---------------------------------------------------------------------

    async def ticket(self, ticket_id: str) -> Stored | None:
        doc = await self._tickets.find_one({"_id": ticket_id})
        return ticket_of(doc) if doc else None

    async def tickets(self, ticket_ids: Iterable[str]) -> dict[str, Stored]:
        found = await find_by_ids(self._tickets, ticket_ids)
        return {ticket_id: ticket_of(doc) for ticket_id, doc in found.items()}

    async def create_ticket(self, ticket: RoutedTicket) -> Stored:
        """Record a new ticket once; a repeat gets the first record, so one decision stands."""
        if await self.insert_tickets([ticket]):
            found = await self.ticket(ticket.ticket_id)
            assert found is not None  # tickets are never deleted
            return found
        return ticket, 0

    async def insert_tickets(self, tickets: Sequence[RoutedTicket]) -> set[str]:
        """Insert new tickets at revision 0 in one write; returns the ids that existed (left
        as they were)."""
        existed = await insert_new(self._tickets, [ticket_doc(t, 0) for t in tickets])
        return {str(i) for i in existed}

    async def save_ticket(self, ticket: RoutedTicket, revision: int) -> bool:
        """Save only over the revision read; False when another replica saved it first."""
        return ticket.ticket_id in await self.save_tickets([(ticket, revision)])

    async def save_tickets(self, saves: Sequence[Stored]) -> set[str]:
        """Save each over the revision read, in one write; returns the ids saved. When some lost
        a race, they are found by re-reading which carry this write's mark."""
        if not saves:
            return set()
        mark = uuid.uuid4().hex
        ops = [
            ReplaceOne({"_id": t.ticket_id, "revision": r}, ticket_doc(t, r + 1, mark))
            for t, r in saves
        ]
        result = await self._tickets.bulk_write(ops, ordered=False)
        ids = {t.ticket_id for t, _ in saves}
        if result.matched_count == len(ops):
            return ids
        found = await find_by_ids(self._tickets, ids, {"saved_by": 1})
        return {i for i, doc in found.items() if doc.get("saved_by") == mark}

    async def queued(self, team: str, order: QueueOrder, limit: int, skip: int = 0) -> list[Stored]:
        cursor = (
            self._tickets.find({"team": team, "state": "queued"})
            .sort([(f, ASCENDING) for f in QUEUE_SORT[order]])
            .skip(skip)
            .limit(limit)
        )
        return [ticket_of(doc) async for doc in cursor]

    async def queue_teams(self) -> list[str]:
        return sorted(await self._tickets.distinct("team", {"state": "queued"}))

    async def due_acknowledgements(self, now: datetime, limit: int) -> list[RoutedTicket]:
        query = {"state": "assigned", "acknowledged": False, "ack_due_at": due_by(now)}
        cursor = self._tickets.find(query).sort("ack_due_at", ASCENDING).limit(limit)
        return [ticket_of(doc)[0] async for doc in cursor]

    async def passed_around(
        self, at_least: int, limit: int, teams: Collection[str] | None = None
    ) -> list[RoutedTicket]:
        query: Document = {"transfer_count": {"$gte": at_least}}
        if teams is not None:
            query["team"] = {"$in": sorted(teams)}
        cursor = self._tickets.find(query).sort("transfer_count", -1).limit(limit)
        return [ticket_of(doc)[0] async for doc in cursor]

    async def held_by(self, agent_id: str, limit: int) -> list[RoutedTicket]:
        cursor = self._tickets.find({"agent_id": agent_id, "state": "assigned"}).limit(limit)
        return [ticket_of(doc)[0] async for doc in cursor]

    # -- agents: `MongoAgents` -------------------------------------------------------------

    async def agent_records(self, agent_ids: Iterable[str]) -> dict[str, Document]:
        return await self.agents.records(agent_ids)

    async def agents_in_flight(self) -> dict[str, Document]:
        return await self.agents.in_flight()

    async def prepare_agents(self, agent_ids: Iterable[str]) -> None:
        await self.agents.prepare(agent_ids)

    async def change_slots(self, changes: Sequence[SlotChange]) -> set[str]:
        return await self.agents.change_slots(changes)

    async def settle_slots(
        self, settled: Sequence[SlotChange], undone: Sequence[SlotChange]
    ) -> None:
        await self.agents.settle_slots(settled, undone)

    async def set_presence(self, agent_id: str, presence: Presence, at: datetime) -> bool:
        return await self.agents.set_presence(agent_id, presence, at)

    # -- customers --------------------------------------------------------------------------

    async def customer(self, customer_id: str) -> Document | None:
        return await self._customers.find_one({"_id": customer_id})

    async def customers(self, customer_ids: Iterable[str]) -> dict[str, Document]:
        return await find_by_ids(self._customers, customer_ids)

    async def save_customers(self, records: Mapping[str, Document]) -> None:
        """Replace each customer's record whole, in one write."""
        ops = [
            ReplaceOne({"_id": customer_id}, {**record, "_id": customer_id}, upsert=True)
            for customer_id, record in records.items()
        ]
        if ops:
            await self._customers.bulk_write(ops, ordered=False)

    async def merge_customer(self, survivor_id: str, merged_id: str) -> None:
        """Fold the merged record into the survivor, once; the tickets follow the survivor."""
        records = await self.customers([survivor_id, merged_id])
        merged = records.get(merged_id)
        if merged is not None:
            folded = customers_merged(records.get(survivor_id), merged)
            await self.save_customers({survivor_id: folded})
            await self._customers.delete_one({"_id": merged_id})
        await self._tickets.update_many(
            {"customer_id": merged_id}, {"$set": {"customer_id": survivor_id}}
        )

    async def erase_customers(self, customer_ids: Sequence[str]) -> None:
        """What the router kept of these people (their helpers, their tiers) goes."""
        await self._customers.delete_many({"_id": {"$in": list(customer_ids)}})
