"""Escalation ladders in flight, in MongoDB (collection `escalations`).

One document per breach whose ladder has a next rung: the rung told last, when the next is
due unless somebody acknowledges, and everybody told so far. Climbing a rung is a
conditional update on the rung it climbs from, so two replicas never both climb it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.notifier.notices import Notice, line
from shared.events.notifications import EscalationStatus
from shared.mongo import Document, Indexes

COLLECTION = "escalations"


class Escalation(BaseModel):
    escalation_id: str
    ticket_id: str
    metric: str
    level: str
    team: str | None = None
    notice: Notice = Field(description="The first rung's notice; later rungs copy it.")
    rung: int = Field(ge=0, description="The rung told last.")
    rungs: int = Field(ge=1)
    status: EscalationStatus = "open"
    raised_at: datetime
    next_at: datetime | None = Field(description="When the next rung is told, if still open.")
    told: list[str] = Field(default_factory=list, description="Everybody told so far.")
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    reason: str | None = None

    def view(self) -> dict[str, Any]:
        """As the console receives it (the HTTP contract's EscalationView)."""
        notice = self.notice.model_copy(update={"rung": self.rung})
        return {
            "escalation_id": self.escalation_id,
            "ticket_id": self.ticket_id,
            "reference": notice.reference,
            "metric": self.metric,
            "level": self.level,
            "rung": self.rung,
            "rungs": self.rungs,
            "text": line(notice),
            "status": self.status,
            "raised_at": self.raised_at,
            "acknowledge_by": self.next_at if self.status == "open" else None,
            "acknowledged_by": self.acknowledged_by,
            "acknowledged_at": self.acknowledged_at,
        }


def _doc(escalation: Escalation) -> Document:
    doc = escalation.model_dump(mode="python", exclude={"escalation_id"})
    doc["_id"] = escalation.escalation_id
    return doc


def _escalation(doc: Document) -> Escalation:
    return Escalation.model_validate({**doc, "escalation_id": doc["_id"]})


class Escalations:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._docs = db[COLLECTION]

    @staticmethod
    def indexes() -> list[Indexes]:
        return [
            Indexes(
                COLLECTION,
                [
                    IndexModel([("status", ASCENDING), ("next_at", ASCENDING)]),
                    IndexModel([("ticket_id", ASCENDING)]),
                    IndexModel([("told", ASCENDING), ("status", ASCENDING)]),
                ],
            )
        ]

    async def open(self, escalation: Escalation) -> bool:
        """Start tracking a ladder; false when it is tracked already (a redelivered breach)."""
        try:
            await self._docs.insert_one(_doc(escalation))
        except DuplicateKeyError:
            return False
        return True

    async def get(self, escalation_id: str) -> Escalation | None:
        doc = await self._docs.find_one({"_id": escalation_id})
        return _escalation(doc) if doc else None

    async def due(self, now: datetime, limit: int = 100) -> list[Escalation]:
        cursor = (
            self._docs.find({"status": "open", "next_at": {"$lte": now}})
            .sort("next_at", ASCENDING)
            .limit(limit)
        )
        return [_escalation(doc) async for doc in cursor]

    async def next_due(self) -> datetime | None:
        doc = await self._docs.find_one(
            {"status": "open", "next_at": {"$ne": None}}, sort=[("next_at", ASCENDING)]
        )
        return doc["next_at"] if doc else None

    async def climb(
        self, escalation: Escalation, *, next_at: datetime | None, told: list[str]
    ) -> bool:
        """Move from the rung told last to the next one; false when another replica did."""
        result = await self._docs.update_one(
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
        """Stop a ladder still open: acknowledged, stopped (resolved) or exhausted (top rung).

        Returns the escalation after the change, or None when it was not open any more.
        """
        update: dict[str, Any] = {"status": status, "next_at": None, "reason": reason}
        if status == "acknowledged":
            update |= {"acknowledged_by": by, "acknowledged_at": at}
        doc = await self._docs.find_one_and_update(
            {"_id": escalation_id, "status": "open"},
            {"$set": update},
            return_document=ReturnDocument.AFTER,
        )
        return _escalation(doc) if doc else None

    async def open_for_ticket(self, ticket_id: str, metric: str | None = None) -> list[str]:
        query: Document = {"ticket_id": ticket_id, "status": "open"}
        if metric is not None:
            query["metric"] = metric
        return [doc["_id"] async for doc in self._docs.find(query, {"_id": 1})]

    async def open_for(self, person_id: str, teams: list[str]) -> list[Escalation]:
        """Open escalations a person was told about, or of the teams they lead or manage."""
        clauses: list[Document] = [{"told": person_id}]
        if teams:
            clauses.append({"team": {"$in": teams}})
        cursor = self._docs.find({"status": "open", "$or": clauses}).sort("raised_at", 1)
        return [_escalation(doc) async for doc in cursor]
