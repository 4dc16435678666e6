"""The router's MongoDB adapter, behind a Protocol: assignments, and the loads counted from them.

An agent's load is the number of its unreleased assignments, counted when asked: one write
records an assignment and one write releases it, so no separate counter can drift after a crash.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.mongo import Document, Indexes

ASSIGNMENTS = "assignments"


@dataclass(frozen=True)
class Assignment:
    ticket_id: str
    agent_id: str
    team: str
    reason: str
    released: bool = False

    @classmethod
    def from_doc(cls, doc: Document) -> Assignment:
        return cls(
            ticket_id=doc["_id"],
            agent_id=doc["agent_id"],
            team=doc["team"],
            reason=doc.get("reason", ""),
            released=bool(doc.get("released", False)),
        )


class RoutingStore(Protocol):
    async def record_assignment(
        self, ticket_id: str, agent_id: str, team: str, reason: str = ""
    ) -> Assignment: ...
    async def assignment(self, ticket_id: str) -> Assignment | None: ...
    async def release(self, ticket_id: str) -> Assignment | None: ...
    async def loads(self, agent_ids: Iterable[str]) -> dict[str, int]: ...


class MongoRoutingStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._assignments = db[ASSIGNMENTS]

    @staticmethod
    def indexes() -> list[Indexes]:
        # Serves the load count: unreleased assignments of a set of agents.
        by_agent = IndexModel([("agent_id", ASCENDING), ("released", ASCENDING)])
        return [Indexes(ASSIGNMENTS, [by_agent])]

    async def record_assignment(
        self, ticket_id: str, agent_id: str, team: str, reason: str = ""
    ) -> Assignment:
        """Record the ticket's agent once; a repeat returns the first record unchanged."""
        doc: Document = {
            "_id": ticket_id,
            "agent_id": agent_id,
            "team": team,
            "reason": reason,
            "released": False,
        }
        try:
            await self._assignments.insert_one(doc)
        except DuplicateKeyError:
            existing = await self._assignments.find_one({"_id": ticket_id})
            if existing is None:  # pragma: no cover - assignments are never deleted
                raise
            return Assignment.from_doc(existing)
        return Assignment.from_doc(doc)

    async def assignment(self, ticket_id: str) -> Assignment | None:
        doc = await self._assignments.find_one({"_id": ticket_id})
        return Assignment.from_doc(doc) if doc else None

    async def release(self, ticket_id: str) -> Assignment | None:
        """Free the agent's slot once: only the call that flips `released` gets the assignment."""
        doc = await self._assignments.find_one_and_update(
            {"_id": ticket_id, "released": False},
            {"$set": {"released": True}},
            return_document=ReturnDocument.AFTER,
        )
        return Assignment.from_doc(doc) if doc else None

    async def loads(self, agent_ids: Iterable[str]) -> dict[str, int]:
        """Unreleased assignments of each agent asked about, zero for those with none."""
        ids = list(agent_ids)
        counts = {agent_id: 0 for agent_id in ids}
        pipeline: list[Document] = [
            {"$match": {"agent_id": {"$in": ids}, "released": False}},
            {"$group": {"_id": "$agent_id", "open_tickets": {"$sum": 1}}},
        ]
        async for doc in await self._assignments.aggregate(pipeline):
            counts[doc["_id"]] = int(doc["open_tickets"])
        return counts
