"""An in-memory `RoutingStore` with the semantics of `MongoRoutingStore`, for fast tests of the
service and simulations that need no database."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from services.router.domain.slots import SlotChange
from services.router.domain.tickets import RoutedTicket, queue_key
from services.router.store import Stored
from services.router.store_agents import by_agent, in_flight, slot_entry
from services.router.triaging import customers_merged
from shared.events import Presence, QueueOrder
from shared.mongo import Document


class MemoryRoutingStore:
    """`RoutingStore` in dictionaries: one event loop, so every method is atomic by itself."""

    def __init__(self) -> None:
        self.tickets_by_id: dict[str, Stored] = {}
        self.agents: dict[str, Document] = {}
        self.customer_records: dict[str, Document] = {}
        #: Queued tickets by team, kept beside the records as MongoDB keeps an index.
        self._waiting: dict[str, dict[str, RoutedTicket]] = {}

    def _put(self, ticket: RoutedTicket, revision: int) -> Stored:
        before = self.tickets_by_id.get(ticket.ticket_id)
        if before is not None:
            self._waiting.get(before[0].team, {}).pop(ticket.ticket_id, None)
        if ticket.state == "queued":
            self._waiting.setdefault(ticket.team, {})[ticket.ticket_id] = ticket
        self.tickets_by_id[ticket.ticket_id] = (ticket, revision)
        return ticket, revision

    # -- routed tickets ---------------------------------------------------------------------

    async def ticket(self, ticket_id: str) -> Stored | None:
        return self.tickets_by_id.get(ticket_id)

    async def tickets(self, ticket_ids: Iterable[str]) -> dict[str, Stored]:
        return {i: self.tickets_by_id[i] for i in ticket_ids if i in self.tickets_by_id}

    async def create_ticket(self, ticket: RoutedTicket) -> Stored:
        return self.tickets_by_id.get(ticket.ticket_id) or self._put(ticket, 0)

    async def insert_tickets(self, tickets: Sequence[RoutedTicket]) -> set[str]:
        existed = set()
        for ticket in tickets:
            if ticket.ticket_id in self.tickets_by_id:
                existed.add(ticket.ticket_id)
            else:
                self._put(ticket, 0)
        return existed

    async def save_ticket(self, ticket: RoutedTicket, revision: int) -> bool:
        return ticket.ticket_id in await self.save_tickets([(ticket, revision)])

    async def save_tickets(self, saves: Sequence[Stored]) -> set[str]:
        saved = set()
        for ticket, revision in saves:
            stored = self.tickets_by_id.get(ticket.ticket_id)
            if stored is not None and stored[1] == revision:
                self._put(ticket, revision + 1)
                saved.add(ticket.ticket_id)
        return saved

    def _where(self, **equal: Any) -> list[RoutedTicket]:
        return [
            t
            for t, _ in self.tickets_by_id.values()
            if all(getattr(t, name) == value for name, value in equal.items())
        ]

    async def queued(self, team: str, order: QueueOrder, limit: int, skip: int = 0) -> list[Stored]:
        # queue_key reads a missing rank as 0, as MongoDB sorts a null before any number.
        waiting = self._waiting.get(team, {}).values()
        ordered = sorted(waiting, key=lambda t: queue_key(t, order))[skip : skip + limit]
        return [self.tickets_by_id[t.ticket_id] for t in ordered]

    async def queue_teams(self) -> list[str]:
        return sorted(team for team, waiting in self._waiting.items() if waiting)

    async def due_acknowledgements(self, now: datetime, limit: int) -> list[RoutedTicket]:
        due = [
            t
            for t in self._where(state="assigned", acknowledged=False)
            if t.ack_due_at is not None and t.ack_due_at <= now
        ]
        return sorted(due, key=lambda t: t.ack_due_at or now)[:limit]

    async def passed_around(
        self, at_least: int, limit: int, teams: Collection[str] | None = None
    ) -> list[RoutedTicket]:
        moved = [
            t
            for t, _ in self.tickets_by_id.values()
            if t.transfer_count >= at_least and (teams is None or t.team in teams)
        ]
        return sorted(moved, key=lambda t: -t.transfer_count)[:limit]

    async def held_by(self, agent_id: str, limit: int) -> list[RoutedTicket]:
        return self._where(agent_id=agent_id, state="assigned")[:limit]

    # -- agents -----------------------------------------------------------------------------

    async def agent_records(self, agent_ids: Iterable[str]) -> dict[str, Document]:
        return {i: _agent_copy(self.agents[i]) for i in agent_ids if i in self.agents}

    async def agents_in_flight(self) -> dict[str, Document]:
        return {i: _agent_copy(r) for i, r in self.agents.items() if r.get("slots")}

    async def prepare_agents(self, agent_ids: Iterable[str]) -> None:
        for agent_id in agent_ids:
            record = self.agents.setdefault(agent_id, {"_id": agent_id, "load": {}})
            if "load" not in record:
                held = record.pop("open", {})
                record["load"] = {ch: len(ids) for ch, ids in held.items()}

    async def change_slots(self, changes: Sequence[SlotChange]) -> set[str]:
        now = datetime.now(UTC)
        applied: set[str] = set()
        for agent_id, mine in by_agent(changes).items():
            record = self.agents.get(agent_id)
            if record is None:
                continue
            for group in ([c for c in mine if c.delta > 0], [c for c in mine if c.delta < 0]):
                if group and _apply(record, group, now):
                    applied.update(c.record for c in group)
            present = {c.record for c, _ in in_flight(record)}
            applied.update(c.record for c in mine if c.record in present)
        return applied

    async def settle_slots(
        self, settled: Sequence[SlotChange], undone: Sequence[SlotChange]
    ) -> None:
        for change in settled:
            record = self.agents.get(change.agent_id, {})
            record["slots"] = [s for s in record.get("slots", ()) if s["k"] != change.key]
        for change in undone:
            record = self.agents.get(change.agent_id, {})
            slots = record.get("slots", [])
            if any(s["k"] == change.key for s in slots):
                record["slots"] = [s for s in slots if s["k"] != change.key]
                load = record.setdefault("load", {})
                load[change.channel] = load.get(change.channel, 0) - change.delta

    async def set_presence(self, agent_id: str, presence: Presence, at: datetime) -> bool:
        """Record a report unless a later one is stored; True when the presence changed."""
        record = self.agents.get(agent_id)
        if record is None:
            self.agents[agent_id] = {
                "_id": agent_id,
                "presence": presence,
                "presence_at": at,
                "load": {},
            }
            return True
        reported = record.get("presence_at")
        if reported is not None and reported > at:
            return False
        before = record.get("presence")
        record.update(presence=presence, presence_at=at)
        return before != presence

    # -- customers --------------------------------------------------------------------------

    async def customer(self, customer_id: str) -> Document | None:
        record = self.customer_records.get(customer_id)
        return _copy(record) if record is not None else None

    async def customers(self, customer_ids: Iterable[str]) -> dict[str, Document]:
        return {
            cid: _copy(self.customer_records[cid])
            for cid in set(customer_ids)
            if cid in self.customer_records
        }

    async def save_customers(self, records: Mapping[str, Document]) -> None:
        for customer_id, record in records.items():
            self.customer_records[customer_id] = {**_copy(record), "_id": customer_id}

    async def merge_customer(self, survivor_id: str, merged_id: str) -> None:
        merged = self.customer_records.pop(merged_id, None)
        if merged is not None:
            survivor = self.customer_records.get(survivor_id)
            self.customer_records[survivor_id] = {
                **customers_merged(survivor, merged),
                "_id": survivor_id,
            }
        for ticket, revision in list(self.tickets_by_id.values()):
            if ticket.customer_id == merged_id:
                self._put(ticket.model_copy(update={"customer_id": survivor_id}), revision)

    async def erase_customers(self, customer_ids: Sequence[str]) -> None:
        for customer_id in customer_ids:
            self.customer_records.pop(customer_id, None)


def _apply(record: Document, group: Sequence[SlotChange], now: datetime) -> bool:
    """As `store._slot_update`: all of the group's keys absent and, for claims, room."""
    keys = {s["k"] for s in record.get("slots", ())}
    if any(c.key in keys for c in group):
        return False
    load = record.setdefault("load", {})
    per_channel = Counter(c.channel for c in group)
    delta = group[0].delta
    if delta > 0:
        for channel, n in per_channel.items():
            capacity = min(c.capacity for c in group if c.channel == channel)
            if load.get(channel, 0) + n > capacity:
                return False
        record["last_assigned"] = max(
            int(record.get("last_assigned", 0)), *(c.sequence for c in group)
        )
    for channel, n in per_channel.items():
        load[channel] = load.get(channel, 0) + n * delta
    record["slots"] = [*record.get("slots", ()), *(slot_entry(c, now) for c in group)]
    return True


def _agent_copy(doc: Document) -> Document:
    return {
        **doc,
        "load": dict(doc.get("load", {})),
        "slots": [dict(s) for s in doc.get("slots", ())],
    }


def _copy(doc: Mapping[str, Any]) -> Document:
    """A copy deep enough that a caller cannot change the stored lists and maps."""
    copied = dict(doc)
    for k, v in doc.items():
        if isinstance(v, Mapping):
            copied[k] = _copy(v)
        elif isinstance(v, list):
            copied[k] = list(v)
    return copied
