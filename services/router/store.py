"""The router's MongoDB adapter, behind a Protocol: routed tickets and queues, agents' presence
and held tickets, and what the router remembers of each customer.

An agent's load is the list of tickets they hold per channel, on the agent's own document, and
a slot is claimed with one conditional update (the list is shorter than the capacity, or
already holds the ticket): replicas that race for the last slot cannot both win.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.router.domain.tickets import QUEUE_SORT, RoutedTicket
from shared.directory import CHANNELS
from shared.events import Presence, QueueOrder
from shared.events.tickets import Channel
from shared.mongo import Document, Indexes

TICKETS = "routed_tickets"
AGENTS = "agents"
CUSTOMERS = "customers"


def _ticket_doc(ticket: RoutedTicket, revision: int) -> Document:
    doc = ticket.model_dump(mode="python")
    doc["_id"] = doc.pop("ticket_id")
    # Stored beside the record so a queue is one indexed, sorted read.
    doc.update(
        priority_rank=ticket.priority_rank,
        difficulty_rank=ticket.difficulty_rank,
        tier_rank=ticket.tier_rank,
        revision=revision,
    )
    return doc


def _ticket(doc: Document) -> tuple[RoutedTicket, int]:
    fields = {k: v for k, v in doc.items() if k in RoutedTicket.model_fields}
    return RoutedTicket(ticket_id=doc["_id"], **fields), int(doc.get("revision", 0))


class RoutingStore(Protocol):
    async def ticket(self, ticket_id: str) -> tuple[RoutedTicket, int] | None: ...
    async def create_ticket(self, ticket: RoutedTicket) -> tuple[RoutedTicket, int]: ...
    async def save_ticket(self, ticket: RoutedTicket, revision: int) -> bool: ...
    async def queued(self, team: str, order: QueueOrder, limit: int) -> list[RoutedTicket]: ...
    async def queue_teams(self) -> list[str]: ...
    async def due_acknowledgements(self, now: datetime, limit: int) -> list[RoutedTicket]: ...
    async def next_acknowledgement(self) -> datetime | None: ...
    async def passed_around(self, at_least: int, limit: int) -> list[RoutedTicket]: ...
    async def agent_records(self, agent_ids: Sequence[str]) -> dict[str, Document]: ...
    async def claim(
        self, agent_id: str, channel: Channel, ticket_id: str, capacity: int, sequence: int
    ) -> bool: ...
    async def release(self, agent_id: str, ticket_id: str) -> None: ...
    async def set_presence(self, agent_id: str, presence: Presence, at: datetime) -> bool: ...
    async def customer(self, customer_id: str) -> Document | None: ...
    async def customers(self, customer_ids: Sequence[str]) -> dict[str, Document]: ...
    async def save_customer(self, customer_id: str, record: Document) -> None: ...


class MongoRoutingStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._tickets = db[TICKETS]
        self._agents = db[AGENTS]
        self._customers = db[CUSTOMERS]

    @staticmethod
    def indexes() -> list[Indexes]:
        queues = [
            IndexModel([("team", ASCENDING), ("state", ASCENDING)] + [(f, ASCENDING) for f in sort])
            for sort in QUEUE_SORT.values()
        ]
        acks = IndexModel([("state", ASCENDING), ("acknowledged", ASCENDING), ("ack_due_at", 1)])
        transfers = IndexModel([("transfer_count", ASCENDING)])
        return [Indexes(TICKETS, [*queues, acks, transfers])]

    async def ticket(self, ticket_id: str) -> tuple[RoutedTicket, int] | None:
        doc = await self._tickets.find_one({"_id": ticket_id})
        return _ticket(doc) if doc else None

    async def create_ticket(self, ticket: RoutedTicket) -> tuple[RoutedTicket, int]:
        """Record a new ticket once; a repeat gets the first record, so one decision stands."""
        try:
            await self._tickets.insert_one(_ticket_doc(ticket, 0))
        except DuplicateKeyError:
            found = await self.ticket(ticket.ticket_id)
            if found is None:  # pragma: no cover - tickets are never deleted
                raise
            return found
        return ticket, 0

    async def save_ticket(self, ticket: RoutedTicket, revision: int) -> bool:
        """Save only over the revision read; False when another replica saved it first."""
        result = await self._tickets.replace_one(
            {"_id": ticket.ticket_id, "revision": revision}, _ticket_doc(ticket, revision + 1)
        )
        return result.matched_count == 1

    async def queued(self, team: str, order: QueueOrder, limit: int) -> list[RoutedTicket]:
        cursor = (
            self._tickets.find({"team": team, "state": "queued"})
            .sort([(f, ASCENDING) for f in QUEUE_SORT[order]])
            .limit(limit)
        )
        return [_ticket(doc)[0] async for doc in cursor]

    async def queue_teams(self) -> list[str]:
        return sorted(await self._tickets.distinct("team", {"state": "queued"}))

    async def due_acknowledgements(self, now: datetime, limit: int) -> list[RoutedTicket]:
        query = {"state": "assigned", "acknowledged": False, "ack_due_at": {"$lte": now}}
        cursor = self._tickets.find(query).sort("ack_due_at", ASCENDING).limit(limit)
        return [_ticket(doc)[0] async for doc in cursor]

    async def next_acknowledgement(self) -> datetime | None:
        query = {"state": "assigned", "acknowledged": False, "ack_due_at": {"$ne": None}}
        doc = await self._tickets.find_one(query, sort=[("ack_due_at", ASCENDING)])
        return doc["ack_due_at"] if doc else None

    async def passed_around(self, at_least: int, limit: int) -> list[RoutedTicket]:
        cursor = (
            self._tickets.find({"transfer_count": {"$gte": at_least}})
            .sort("transfer_count", -1)
            .limit(limit)
        )
        return [_ticket(doc)[0] async for doc in cursor]

    async def agent_records(self, agent_ids: Sequence[str]) -> dict[str, Document]:
        return {
            doc["_id"]: doc async for doc in self._agents.find({"_id": {"$in": list(agent_ids)}})
        }

    async def claim(
        self, agent_id: str, channel: Channel, ticket_id: str, capacity: int, sequence: int
    ) -> bool:
        """Take a slot of the agent's capacity on `channel` for the ticket, or say it is full.

        `open.<channel>.<capacity-1>` exists exactly when the list is full; a ticket already in
        the list matches too, so a repeated claim succeeds without taking a second slot.
        """
        held = f"open.{channel}"
        if capacity <= 0:
            found = await self._agents.find_one({"_id": agent_id, held: ticket_id}, {"_id": 1})
            return found is not None
        room = [{held: ticket_id}, {f"{held}.{capacity - 1}": {"$exists": False}}]
        update = {"$addToSet": {held: ticket_id}, "$max": {"last_assigned": sequence}}
        for _ in range(2):
            try:
                result = await self._agents.update_one(
                    {"_id": agent_id, "$or": room}, update, upsert=True
                )
            except DuplicateKeyError:
                # The upsert tried to insert a second document: the agent's record exists,
                # full, or created by a racing first claim; the second try tells which.
                continue
            return result.matched_count == 1 or result.upserted_id is not None
        return False

    async def release(self, agent_id: str, ticket_id: str) -> None:
        await self._agents.update_one(
            {"_id": agent_id}, {"$pull": {f"open.{channel}": ticket_id for channel in CHANNELS}}
        )

    async def set_presence(self, agent_id: str, presence: Presence, at: datetime) -> bool:
        """Record a report unless a later one is stored; True when the presence changed."""
        before = await self._agents.find_one_and_update(
            {"_id": agent_id, "$or": [{"presence_at": {"$lte": at}}, {"presence_at": None}]},
            {"$set": {"presence": presence, "presence_at": at}},
        )
        if before is None:
            try:
                await self._agents.insert_one(
                    {"_id": agent_id, "presence": presence, "presence_at": at}
                )
            except DuplicateKeyError:
                return False  # a later report is stored
            return True
        return before.get("presence") != presence

    async def customer(self, customer_id: str) -> Document | None:
        return await self._customers.find_one({"_id": customer_id})

    async def customers(self, customer_ids: Sequence[str]) -> dict[str, Document]:
        """Many customers in one read, for a queue being drained."""
        query = {"_id": {"$in": list(set(customer_ids))}}
        return {doc["_id"]: doc async for doc in self._customers.find(query)}

    async def save_customer(self, customer_id: str, record: Document) -> None:
        await self._customers.replace_one({"_id": customer_id}, record, upsert=True)
