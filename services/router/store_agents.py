"""The agents' collection of the router's store: presence, load counters and the changes in
flight (why they make claims and releases safe to redo: `services/router/store.py`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from services.router.domain.slots import SlotChange
from shared.events import Presence
from shared.events.tickets import Channel
from shared.mongo import Document, find_by_ids, insert_new


def slot_entry(change: SlotChange, at: datetime) -> Document:
    return {"k": change.key, "ch": change.channel, "at": at}


def in_flight(record: Document) -> list[tuple[SlotChange, datetime]]:
    """The changes in flight on an agent's record, with when each was made."""
    return [
        (SlotChange.parse(record["_id"], entry["ch"], entry["k"]), entry["at"])
        for entry in record.get("slots", ())
    ]


def by_agent(changes: Iterable[SlotChange]) -> dict[str, list[SlotChange]]:
    grouped: dict[str, list[SlotChange]] = {}
    for change in changes:
        grouped.setdefault(change.agent_id, []).append(change)
    return grouped


class MongoAgents:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self.collection = collection

    async def records(self, agent_ids: Iterable[str]) -> dict[str, Document]:
        return await find_by_ids(self.collection, agent_ids)

    async def in_flight(self) -> dict[str, Document]:
        """Agents with changes in flight (the sweep settles those a crash left)."""
        return {
            doc["_id"]: doc async for doc in self.collection.find({"slots.0": {"$exists": True}})
        }

    async def prepare(self, agent_ids: Iterable[str]) -> None:
        """Give every agent a record, and a record of the older shape (a list of the tickets
        held per channel) its counters."""
        ids = list(dict.fromkeys(agent_ids))
        found = await self.records(ids)
        await insert_new(self.collection, [{"_id": i, "load": {}} for i in ids if i not in found])
        ops = [
            UpdateOne(
                {"_id": i, "load": {"$exists": False}},
                {
                    "$set": {f"load.{ch}": len(held) for ch, held in doc.get("open", {}).items()},
                    "$unset": {"open": ""},
                },
            )
            for i, doc in found.items()
            if "load" not in doc and doc.get("open")
        ]
        if ops:
            await self.collection.bulk_write(ops, ordered=False)

    async def change_slots(self, changes: Sequence[SlotChange]) -> set[str]:
        """Apply the changes, one conditional update per agent for its claims and one for its
        releases; returns the records (`agent/key`) now in flight, applied now or before. A
        claim not among them found no room (or the agent had no record)."""
        now = datetime.now(UTC)
        ops: list[UpdateOne] = []
        wanted: set[str] = set()
        for agent_id, mine in by_agent(changes).items():
            for group in ([c for c in mine if c.delta > 0], [c for c in mine if c.delta < 0]):
                op = _slot_update(agent_id, group, now)
                if op is not None:
                    ops.append(op)
                    wanted.update(c.record for c in group)
        if not ops:
            return set()
        result = await self.collection.bulk_write(ops, ordered=False)
        if result.matched_count == len(ops):
            return wanted
        records = await self.records({c.agent_id for c in changes})
        present = {c.record for r in records.values() for c, _ in in_flight(r)}
        return wanted & present

    async def settle_slots(
        self, settled: Sequence[SlotChange], undone: Sequence[SlotChange]
    ) -> None:
        """Pull settled keys (the count stays) and undo the others (the count reversed), each
        undo conditional on its key, in one write."""
        ops = [
            UpdateOne({"_id": agent_id}, {"$pull": {"slots": {"k": {"$in": [c.key for c in g]}}}})
            for agent_id, g in by_agent(settled).items()
        ]
        ops += [
            UpdateOne(
                {"_id": c.agent_id, "slots.k": c.key},
                {"$inc": {f"load.{c.channel}": -c.delta}, "$pull": {"slots": {"k": c.key}}},
            )
            for c in undone
        ]
        if ops:
            await self.collection.bulk_write(ops, ordered=False)

    async def set_presence(self, agent_id: str, presence: Presence, at: datetime) -> bool:
        """Record a report unless a later one is stored; True when the presence changed.

        A read, then a write on condition the document is as read (compare and set, tried
        again if another report came in between), not `findAndModify`, which on the local
        server scans the collection for a document it matches."""
        while True:
            before = await self.collection.find_one(
                {"_id": agent_id}, {"presence": 1, "presence_at": 1}
            )
            if before is None:
                try:
                    await self.collection.insert_one(
                        {"_id": agent_id, "presence": presence, "presence_at": at, "load": {}}
                    )
                except DuplicateKeyError:
                    continue  # another report made the document: compare with it
                return True
            stored_at = before.get("presence_at")
            if stored_at is not None and stored_at > at:
                return False
            result = await self.collection.update_one(
                {"_id": agent_id, "presence_at": stored_at},
                {"$set": {"presence": presence, "presence_at": at}},
            )
            if result.matched_count:
                return before.get("presence") != presence


def _slot_update(agent_id: str, group: Sequence[SlotChange], now: datetime) -> UpdateOne | None:
    """One agent's claims (or releases) as one update: none of their keys there yet, and for
    claims every channel's count staying within its capacity."""
    if not group:
        return None
    per_channel: Counter[Channel] = Counter(c.channel for c in group)
    query: dict[str, Any] = {"_id": agent_id, "slots.k": {"$nin": [c.key for c in group]}}
    update: dict[str, Any] = {
        "$inc": {f"load.{ch}": n * group[0].delta for ch, n in per_channel.items()},
        "$push": {"slots": {"$each": [slot_entry(c, now) for c in group]}},
    }
    if group[0].delta > 0:
        for channel, n in per_channel.items():
            capacity = min(c.capacity for c in group if c.channel == channel)
            if capacity - n < 0:
                return None
            # Room left, or no count yet. Side by side with the id, not in `$or` or `$and`,
            # with which the database may scan every agent instead of going to this one.
            query[f"load.{channel}"] = {"$not": {"$gt": capacity - n}}
        update["$max"] = {"last_assigned": max(c.sequence for c in group)}
    return UpdateOne(query, update)
