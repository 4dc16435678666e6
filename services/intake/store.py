"""Intake's MongoDB adapter: ticket records with their history, the thread index, each
contact's decision (so a redelivery replays it), call records and stored attachments."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from gridfs import AsyncGridFSBucket
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.intake.customers import MongoCustomers
from services.intake.domain import Decision, Identity
from shared.events import Event, TicketContactAppended, TicketOpened, TicketStatusChanged
from shared.mongo import Document, Indexes

ACTIVE = ["open", "reopened", "pending", "on_hold"]


class IntakeStore(Protocol):
    async def recognise(self, identities: list[Identity], contact_id: str) -> Document: ...
    async def customer(self, customer_id: str) -> Document | None: ...
    async def merges_of(self, customer_id: str) -> list[Document]: ...
    async def decision(self, contact_id: str) -> Document | None: ...
    async def save_decision(self, decision: Decision) -> Document: ...
    async def apply(self, decision: Document, extra: Document) -> None: ...
    async def mark_published(self, contact_id: str) -> None: ...
    async def ticket_by_key(self, keys: list[str]) -> tuple[Document, str] | None: ...
    async def ticket_by_reference(self, reference: str) -> Document | None: ...
    async def open_call(self, phone: str, since: datetime) -> Document | None: ...
    async def recent_tickets(self, customer_id: str, since: datetime) -> list[Document]: ...
    async def ticket(self, ticket_id: str) -> Document | None: ...
    async def transition(self, ticket_id: str, from_status: str, to_status: str) -> bool: ...
    async def record(self, ticket_id: str, event: Event) -> None: ...
    async def remember_key(self, key: str, ticket_id: str) -> None: ...
    async def project(self, ticket_id: str, fields: Document) -> None: ...
    async def tickets_of(self, customer_id: str) -> list[Document]: ...
    async def record_call(self, call: Document) -> None: ...
    async def calls_since(self, since: datetime) -> list[Document]: ...
    async def suppress(self, record: Document) -> None: ...
    async def store_attachment(self, filename: str, content_type: str, data: bytes) -> str: ...


class MongoIntakeStore(MongoCustomers):
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        super().__init__(db)
        self._threads = db["threads"]
        self._decisions = db["contact_decisions"]
        self._calls = db["calls"]
        self._suppressed = db["suppressed_mail"]
        self._files = AsyncGridFSBucket(db, bucket_name="attachments")

    @staticmethod
    def indexes() -> list[Indexes]:
        return [
            *MongoCustomers.indexes(),
            Indexes(
                "tickets",
                [
                    IndexModel([("customer_id", ASCENDING), ("opened_at", ASCENDING)]),
                    IndexModel([("reference", ASCENDING)]),
                    IndexModel([("phone", ASCENDING), ("last_contact_at", DESCENDING)]),
                ],
            ),
            Indexes("threads", [IndexModel([("ticket_id", ASCENDING)])]),
            Indexes("calls", [IndexModel([("at", ASCENDING)])]),
        ]

    async def decision(self, contact_id: str) -> Document | None:
        return await self._decisions.find_one({"_id": contact_id})

    async def save_decision(self, decision: Decision) -> Document:
        """Keep what a contact decided before acting on it; a redelivery finds and replays it."""
        doc = {
            "_id": decision.contact_id,
            "ticket_id": decision.ticket_id,
            "outcome": decision.outcome,
            "note": decision.note,
            "events": [e.model_dump(mode="json") for e in decision.events],
            "published": False,
        }
        try:
            await self._decisions.insert_one(doc)
            return doc
        except DuplicateKeyError:
            return await self.decision(decision.contact_id) or doc

    async def mark_published(self, contact_id: str) -> None:
        await self._decisions.update_one({"_id": contact_id}, {"$set": {"published": True}})

    async def apply(self, decision: Document, extra: Document) -> None:
        """Write a decision's effects; every step is safe to repeat."""
        ticket_id = decision["ticket_id"]
        for raw in decision["events"]:
            kind = raw["event_type"]
            if kind == "ticket.opened":
                await self._insert_ticket(TicketOpened.model_validate(raw), extra)
            elif kind == "ticket.contact_appended":
                appended = TicketContactAppended.model_validate(raw)
                await self.record(ticket_id, appended)
                change: Document = {"$max": {"last_contact_at": appended.occurred_at}}
                if extra["update"]:
                    change["$set"] = extra["update"]
                await self._tickets.update_one({"_id": ticket_id}, change)
            elif kind == "ticket.status_changed":
                changed = TicketStatusChanged.model_validate(raw)
                closing = changed.status in ("resolved", "closed")
                await self._tickets.update_one(
                    {"_id": ticket_id},
                    {
                        "$set": {
                            "status": changed.status,
                            "closed_at": changed.occurred_at if closing else None,
                        }
                    },
                )
                await self.record(ticket_id, changed)
        if decision.get("note"):
            await self._tickets.update_one(
                {"_id": ticket_id, "history.contact_id": {"$ne": decision["_id"]}},
                {
                    "$push": {
                        "history": {
                            "event_type": "note.system",
                            "contact_id": decision["_id"],
                            "body": decision["note"],
                        }
                    }
                },
            )
        for key in extra["keys"]:
            await self.remember_key(key, ticket_id)

    async def _insert_ticket(self, opened: TicketOpened, extra: Document) -> None:
        event = opened.model_dump(mode="json")
        doc = {
            "_id": opened.ticket_id,
            "reference": opened.reference,
            "customer_id": opened.customer_id,
            "contact_id": opened.contact_id,
            "channel": opened.channel,
            "subject": opened.subject,
            "language": opened.language,
            "status": "open",
            "opened_at": opened.occurred_at,
            "last_contact_at": opened.occurred_at,
            "closed_at": None,
            "team": None,
            "agent_id": None,
            "transfer_count": 0,
            "opened_event": event,
            "history": [event],
            **extra["fields"],
            **extra["update"],
        }
        try:
            await self._tickets.insert_one(doc)
        except DuplicateKeyError:
            pass

    async def ticket_by_key(self, keys: list[str]) -> tuple[Document, str] | None:
        for key in keys:
            entry = await self._threads.find_one({"_id": key})
            if entry is not None:
                ticket = await self.ticket(entry["ticket_id"])
                if ticket is not None:
                    return ticket, key
        return None

    async def ticket_by_reference(self, reference: str) -> Document | None:
        return await self._tickets.find_one({"reference": reference})

    async def open_call(self, phone: str, since: datetime) -> Document | None:
        cursor = self._tickets.find(
            {"phone": phone, "status": {"$in": ACTIVE}, "last_contact_at": {"$gte": since}}
        ).sort("last_contact_at", DESCENDING)
        return next(iter([t async for t in cursor.limit(1)]), None)

    async def recent_tickets(self, customer_id: str, since: datetime) -> list[Document]:
        cursor = self._tickets.find(
            {"customer_id": customer_id, "opened_at": {"$gte": since}},
            {"topic_terms": 1, "status": 1, "opened_at": 1},
        )
        return [t async for t in cursor]

    async def ticket(self, ticket_id: str) -> Document | None:
        return await self._tickets.find_one({"_id": ticket_id})

    async def transition(self, ticket_id: str, from_status: str, to_status: str) -> bool:
        """Move the status only if nobody moved it first (compare and set)."""
        closing = to_status in ("resolved", "closed")
        result = await self._tickets.update_one(
            {"_id": ticket_id, "status": from_status},
            {
                "$set": {
                    "status": to_status,
                    "closed_at": datetime.now(UTC) if closing else None,
                }
            },
        )
        return result.modified_count == 1

    async def record(self, ticket_id: str, event: Event) -> None:
        """Append an event to the ticket's history, once."""
        await self._tickets.update_one(
            {"_id": ticket_id, "history.event_id": {"$ne": str(event.event_id)}},
            {"$push": {"history": event.model_dump(mode="json")}},
        )

    async def remember_key(self, key: str, ticket_id: str) -> None:
        try:
            await self._threads.insert_one({"_id": key, "ticket_id": ticket_id})
        except DuplicateKeyError:
            pass

    async def project(self, ticket_id: str, fields: Document) -> None:
        await self._tickets.update_one({"_id": ticket_id}, {"$set": fields})

    async def tickets_of(self, customer_id: str) -> list[Document]:
        cursor = self._tickets.find({"customer_id": customer_id}, {"opened_event": 0}).sort(
            "opened_at", ASCENDING
        )
        return [doc async for doc in cursor]

    async def record_call(self, call: Document) -> None:
        try:
            await self._calls.insert_one(call)
        except DuplicateKeyError:
            pass

    async def calls_since(self, since: datetime) -> list[Document]:
        return [c async for c in self._calls.find({"at": {"$gte": since}})]

    async def suppress(self, record: Document) -> None:
        await self._suppressed.insert_one(record)

    async def store_attachment(self, filename: str, content_type: str, data: bytes) -> str:
        file_id = await self._files.upload_from_stream(
            filename, data, metadata={"content_type": content_type}
        )
        return str(file_id)
