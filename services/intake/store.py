"""Intake's MongoDB adapter: customers with all their identities, and tickets with their history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.intake.domain import Identity, customer_id_for
from shared.events import Event, TicketOpened
from shared.mongo import Document, Indexes


class IntakeStore(Protocol):
    async def recognise(self, identities: list[Identity]) -> Document: ...
    async def open_ticket(self, opened: TicketOpened) -> TicketOpened: ...
    async def ticket(self, ticket_id: str) -> Document | None: ...
    async def transition(self, ticket_id: str, from_status: str, to_status: str) -> bool: ...
    async def record(self, ticket_id: str, event: Event) -> None: ...
    async def customer(self, customer_id: str) -> Document | None: ...
    async def tickets_of(self, customer_id: str) -> list[Document]: ...
    async def count_tickets(self, query: dict[str, Any]) -> int: ...


class MongoIntakeStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._customers = db["customers"]
        self._tickets = db["tickets"]

    @staticmethod
    def indexes() -> list[Indexes]:
        return [
            Indexes("customers", [IndexModel([("identities", ASCENDING)], unique=True)]),
            Indexes(
                "tickets", [IndexModel([("customer_id", ASCENDING), ("opened_at", ASCENDING)])]
            ),
        ]

    async def recognise(self, identities: list[Identity]) -> Document:
        """The customer any of these identities belongs to, created if new; new identities join."""
        keys = [i.key for i in identities]
        found = await self._customers.find_one({"identities": {"$in": keys}})
        if found is None:
            doc = {
                "_id": customer_id_for(identities[0]),
                "identities": keys,
                "plan": "standard",
                "created_at": datetime.now(UTC),
            }
            try:
                await self._customers.insert_one(doc)
                return doc
            except DuplicateKeyError:
                found = await self._customers.find_one({"identities": {"$in": keys}})
                if found is None:
                    raise
        missing = [k for k in keys if k not in found["identities"]]
        if missing:
            try:
                updated = await self._customers.find_one_and_update(
                    {"_id": found["_id"]},
                    {"$addToSet": {"identities": {"$each": missing}}},
                    return_document=ReturnDocument.AFTER,
                )
                found = updated or found
            except DuplicateKeyError:
                # The identity belongs to another customer already; merging is a separate step.
                pass
        return found

    async def open_ticket(self, opened: TicketOpened) -> TicketOpened:
        """Store a new ticket; if the contact already opened it, return the stored event."""
        event = opened.model_dump(mode="json")
        doc = {
            "_id": opened.ticket_id,
            "reference": opened.reference,
            "customer_id": opened.customer_id,
            "contact_id": opened.contact_id,
            "channel": opened.channel,
            "subject": opened.subject,
            "status": "open",
            "opened_at": opened.occurred_at,
            "opened_event": event,
            "history": [event],
        }
        try:
            await self._tickets.insert_one(doc)
            return opened
        except DuplicateKeyError:
            existing = await self._tickets.find_one({"_id": opened.ticket_id}, {"opened_event": 1})
            assert existing is not None
            return TicketOpened.model_validate(existing["opened_event"])

    async def ticket(self, ticket_id: str) -> Document | None:
        return await self._tickets.find_one({"_id": ticket_id})

    async def transition(self, ticket_id: str, from_status: str, to_status: str) -> bool:
        """Move the status only if nobody moved it first (compare and set)."""
        result = await self._tickets.update_one(
            {"_id": ticket_id, "status": from_status}, {"$set": {"status": to_status}}
        )
        return result.modified_count == 1

    async def record(self, ticket_id: str, event: Event) -> None:
        """Append an event to the ticket's history, once."""
        await self._tickets.update_one(
            {"_id": ticket_id, "history.event_id": {"$ne": str(event.event_id)}},
            {"$push": {"history": event.model_dump(mode="json")}},
        )

    async def customer(self, customer_id: str) -> Document | None:
        return await self._customers.find_one({"_id": customer_id})

    async def tickets_of(self, customer_id: str) -> list[Document]:
        cursor = self._tickets.find({"customer_id": customer_id}, {"opened_event": 0}).sort(
            "opened_at", ASCENDING
        )
        return [doc async for doc in cursor]

    async def count_tickets(self, query: dict[str, Any]) -> int:
        return await self._tickets.count_documents(query)
