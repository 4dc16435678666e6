"""Escalation ladders in flight, in MongoDB (collection `escalations`): one document per breach
whose ladder has a next rung. Climbing a rung is a conditional update on the rung it climbs
from, so two replicas never both climb it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.notifier.domain.escalations import Escalation, finished
from shared.events.notifications import EscalationStatus
from shared.mongo import Document, Indexes, chunked, due_by, find_by_ids, insert_new

COLLECTION = "escalations"


def _doc(escalation: Escalation) -> Document:
    doc = escalation.model_dump(mode="python", exclude={"escalation_id"})
    doc["_id"] = escalation.escalation_id
    return doc


def _escalation(doc: Document) -> Escalation:
    return Escalation.model_validate({**doc, "escalation_id": doc["_id"]})


class MongoEscalations:
    _escalations: AsyncCollection[Document]

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._escalations = db[COLLECTION]

    @staticmethod
    def escalation_indexes() -> list[Indexes]:
        return [
            Indexes(
                COLLECTION,
                [
                    IndexModel([("status", ASCENDING), ("next_at", ASCENDING)]),
                    IndexModel([("ticket_id", ASCENDING), ("status", ASCENDING)]),
                    IndexModel([("told", ASCENDING), ("status", ASCENDING)]),
                    IndexModel([("team", ASCENDING), ("status", ASCENDING)]),
                ],
            )
        ]

    async def open_escalations(self, escalations: Sequence[Escalation]) -> set[str]:
        existed = await insert_new(self._escalations, [_doc(e) for e in escalations])
        return {str(escalation_id) for escalation_id in existed}

    async def escalation(self, escalation_id: str) -> Escalation | None:
        doc = await self._escalations.find_one({"_id": escalation_id})
        return _escalation(doc) if doc else None

    async def escalations(self, escalation_ids: Iterable[str]) -> dict[str, Escalation]:
        found = await find_by_ids(self._escalations, escalation_ids)
        return {str(key): _escalation(doc) for key, doc in found.items()}

    async def due_escalations(self, now: datetime, limit: int = 100) -> list[Escalation]:
        cursor = (
            self._escalations.find({"status": "open", "next_at": due_by(now)})
            .sort("next_at", ASCENDING)
            .limit(limit)
        )
        return [_escalation(doc) async for doc in cursor]

    async def next_escalation_due(self, before: datetime) -> datetime | None:
        """The earliest rung due by `before` (bounded: ladders far ahead are not read)."""
        doc = await self._escalations.find_one(
            {"status": "open", "next_at": due_by(before)}, sort=[("next_at", ASCENDING)]
        )
        return doc["next_at"] if doc else None

    async def climb(
        self, escalation: Escalation, *, next_at: datetime | None, told: list[str]
    ) -> bool:
        result = await self._escalations.update_one(
            {"_id": escalation.escalation_id, "status": "open", "rung": escalation.rung},
            {
                "$set": {"rung": escalation.rung + 1, "next_at": next_at},
                "$addToSet": {"told": {"$each": told}},
            },
        )
        return result.modified_count == 1

    async def finish(
        self,
        escalation_id: str,
        status: EscalationStatus,
        *,
        at: datetime,
        by: str | None = None,
        reason: str,
    ) -> Escalation | None:
        # A read, then a write on condition the ladder is still open (not `findAndModify`,
        # which on the local server scans the collection): the one write that finds it open
        # finishes it, and what it finished is known without a read after the write.
        doc = await self._escalations.find_one({"_id": escalation_id})
        if doc is None or doc.get("status") != "open":
            return None
        done = finished(_escalation(doc), status, at=at, by=by, reason=reason)
        update: dict[str, Any] = {"status": status, "next_at": None, "reason": reason}
        if status == "acknowledged":
            update |= {"acknowledged_by": by, "acknowledged_at": at}
        result = await self._escalations.update_one(
            {"_id": escalation_id, "status": "open"}, {"$set": update}
        )
        return done if result.modified_count else None

    async def open_escalations_of(self, ticket_ids: Iterable[str]) -> list[Escalation]:
        found: list[Escalation] = []
        for chunk in chunked(list(dict.fromkeys(ticket_ids))):
            cursor = self._escalations.find({"ticket_id": {"$in": chunk}, "status": "open"})
            found += [_escalation(doc) async for doc in cursor]
        return found

    async def open_escalations_for(self, person_id: str, teams: list[str]) -> list[Escalation]:
        # Those the person was told of, and their teams': two indexed reads, not one `$or`.
        queries: list[Document] = [{"told": person_id, "status": "open"}]
        if teams:
            queries.append({"team": {"$in": teams}, "status": "open"})
        found: dict[str, Escalation] = {}
        for query in queries:
            async for doc in self._escalations.find(query):
                found[doc["_id"]] = _escalation(doc)
        return sorted(found.values(), key=lambda e: e.raised_at)
