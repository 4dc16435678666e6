"""Intake's MongoDB adapter behind a Protocol: ticket records with their history, the thread
index, each contact's decision (so a redelivery replays it), customers, call records and stored
attachments. A batch of contacts is read with a few chunked queries and written with a few bulk
writes, in the order that makes every step safe to repeat: customers, decisions, the rest."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from bson import ObjectId
from bson.errors import InvalidId
from gridfs import AsyncGridFSBucket, NoFile
from pymongo import ASCENDING, DESCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.intake.customers import CustomersChanged, MongoCustomers
from services.intake.domain.erasure import erased_ticket
from services.intake.domain.view import TICKET_FIELDS, BatchView, Changes
from shared.events import CustomerErased, Event
from shared.mongo import Document, Indexes, find_by_ids, insert_new

ACTIVE = ["open", "reopened", "pending", "on_hold"]
_PROJECTION = dict.fromkeys(TICKET_FIELDS, 1)


@dataclass(frozen=True)
class StoredFile:
    """An attachment's content as it was kept, with the name and type it came with."""

    stored_id: str
    filename: str
    content_type: str
    data: bytes


class DecisionsChanged(RuntimeError):
    """Another replica decided one of these contacts meanwhile: the batch replays its decision."""


class IntakeStore(Protocol):
    async def load(
        self,
        contact_ids: Sequence[str],
        identity_keys: Iterable[str],
        thread_keys: Iterable[str],
        references: Iterable[str],
        phones: Iterable[tuple[str, datetime]],
    ) -> BatchView: ...
    async def write(self, changes: Changes) -> None: ...
    async def customer(self, customer_id: str) -> Document | None: ...
    async def merges_of(self, customer_id: str) -> list[Document]: ...
    async def ticket(self, ticket_id: str) -> Document | None: ...
    async def transition(
        self,
        ticket_id: str,
        from_status: str,
        to_status: str,
        event: Event | None = None,
        *,
        dropping: str | None = None,
    ) -> bool: ...
    async def record(self, ticket_id: str, event: Event) -> None: ...
    async def remember_key(self, key: str, ticket_id: str) -> None: ...
    async def project(self, changes: dict[str, Document]) -> None: ...
    async def tickets_of(self, customer_id: str) -> list[Document]: ...
    async def calls_since(self, since: datetime) -> list[Document]: ...
    async def suppress(self, record: Document) -> None: ...
    async def store_attachment(self, filename: str, content_type: str, data: bytes) -> str: ...
    async def attachment(self, stored_id: str) -> StoredFile | None: ...
    async def customer_with(self, identity_key: str) -> Document | None: ...
    async def records_of(self, customer_id: str) -> list[Document]: ...
    async def erase(self, event: CustomerErased) -> None: ...


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

    # -- a batch of contacts --------------------------------------------------------------------

    async def load(
        self,
        contact_ids: Sequence[str],
        identity_keys: Iterable[str],
        thread_keys: Iterable[str],
        references: Iterable[str],
        phones: Iterable[tuple[str, datetime]],
    ) -> BatchView:
        """Everything deciding the batch's contacts reads, in one chunked query per kind."""
        decisions = await find_by_ids(self._decisions, contact_ids)
        customers = await self.customers_with(identity_keys)
        threads = {
            key: doc["ticket_id"]
            for key, doc in (await find_by_ids(self._threads, thread_keys)).items()
        }
        tickets = await find_by_ids(self._tickets, threads.values(), _PROJECTION)
        by_reference = await find_by_ids(
            self._tickets, references, _PROJECTION, field_name="reference"
        )
        tickets.update({t["_id"]: t for t in by_reference.values()})
        calls: dict[str, Document] = {}
        for phone, since in dict(phones).items():
            found = await self._tickets.find_one(
                {"phone": phone, "status": {"$in": ACTIVE}, "last_contact_at": {"$gte": since}},
                _PROJECTION,
                sort=[("last_contact_at", DESCENDING)],
            )
            if found is not None:
                calls[phone] = tickets.setdefault(found["_id"], found)
        return BatchView(
            customers={c["_id"]: c for c in customers},
            tickets=tickets,
            threads=threads,
            decisions=decisions,
            open_calls=calls,
        )

    async def write(self, changes: Changes) -> None:
        """Customers first, then the decisions, then what the decisions do: a crash between
        any two steps decides again (customers) or replays the decisions (the rest)."""
        await self.save_customers(changes)
        taken = await insert_new(self._decisions, changes.decisions)
        if taken:
            raise DecisionsChanged(f"contacts decided elsewhere meanwhile: {sorted(taken)[:5]}")
        await insert_new(self._tickets, list(changes.new_tickets.values()))
        updates = [
            UpdateOne({"_id": c.ticket_id, "history.event_id": {"$ne": c.event_id}}, c.update)
            for c in changes.ticket_changes
        ]
        if updates:
            # In order: two contacts of the batch may change one ticket.
            await self._tickets.bulk_write(updates, ordered=True)
        await insert_new(
            self._threads,
            [{"_id": key, "ticket_id": tid} for key, tid in changes.thread_keys.items()],
        )
        await insert_new(self._calls, changes.calls)
        await self.remember_recent(changes.recent)

    # -- single tickets ---------------------------------------------------------------------------

    async def ticket(self, ticket_id: str) -> Document | None:
        return await self._tickets.find_one({"_id": ticket_id})

    async def transition(
        self,
        ticket_id: str,
        from_status: str,
        to_status: str,
        event: Event | None = None,
        *,
        dropping: str | None = None,
    ) -> bool:
        """Move the status only if nobody moved it first (compare and set); with `event`, its
        history entry is written in the same update, so neither can exist without the other.
        `dropping` takes back the entry of the event whose change this undoes, in that update."""
        closing = to_status in ("resolved", "closed")
        update: Document = {
            "$set": {"status": to_status, "closed_at": datetime.now(UTC) if closing else None}
        }
        query: Document = {"_id": ticket_id, "status": from_status}
        if event is not None:
            update["$push"] = {"history": event.model_dump(mode="json")}
            query["history.event_id"] = {"$ne": str(event.event_id)}
        if dropping is not None:
            update["$pull"] = {"history": {"event_id": dropping}}
        result = await self._tickets.update_one(query, update)
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

    async def project(self, changes: dict[str, Document]) -> None:
        """Routing decisions onto the tickets' records: one write per ticket, in one command."""
        writes = [UpdateOne({"_id": tid}, {"$set": fields}) for tid, fields in changes.items()]
        if writes:
            await self._tickets.bulk_write(writes, ordered=False)

    async def tickets_of(self, customer_id: str) -> list[Document]:
        cursor = self._tickets.find({"customer_id": customer_id}, {"opened_event": 0}).sort(
            "opened_at", ASCENDING
        )
        return [doc async for doc in cursor]

    async def calls_since(self, since: datetime) -> list[Document]:
        return [c async for c in self._calls.find({"at": {"$gte": since}})]

    async def suppress(self, record: Document) -> None:
        await self._suppressed.insert_one(record)

    async def store_attachment(self, filename: str, content_type: str, data: bytes) -> str:
        file_id = await self._files.upload_from_stream(
            filename, data, metadata={"content_type": content_type}
        )
        return str(file_id)

    async def attachment(self, stored_id: str) -> StoredFile | None:
        """A stored attachment's content; None for an id that names none (or is no id)."""
        try:
            stream = await self._files.open_download_stream(ObjectId(stored_id))
        except (NoFile, InvalidId, TypeError):
            return None
        metadata = stream.metadata or {}
        data = await stream.read()
        return StoredFile(
            stored_id,
            stream.filename or "attachment",
            str(metadata.get("content_type") or "application/octet-stream"),
            data,
        )

    async def customer_with(self, identity_key: str) -> Document | None:
        """The live customer record holding this identity (`email:ana@example.com`), if any."""
        return await self._customers.find_one({"identities": identity_key, "erased_at": None})

    # -- erasure ----------------------------------------------------------------------------------

    async def records_of(self, customer_id: str) -> list[Document]:
        """The customer's record and every record merged into it, however deep."""
        first = await self._customers.find_one({"_id": customer_id})
        found = [first] if first else []
        frontier = [customer_id]
        while frontier:
            seen = {doc["_id"] for doc in found}
            merged = [
                doc
                async for doc in self._customers.find({"merged_into": {"$in": frontier}})
                if doc["_id"] not in seen
            ]
            found.extend(merged)
            frontier = [doc["_id"] for doc in merged]
        return found

    async def erase(self, event: CustomerErased) -> None:
        """Remove what identifies the person: their records become tombstones, their tickets
        keep only what reports need (no text, no names, no addresses), and their decisions,
        thread keys, calls, stored attachments and suppressed mail go."""
        tickets = [t async for t in self._tickets.find({"_id": {"$in": event.ticket_ids}})]
        files = [
            a["stored_id"]
            for t in tickets
            for h in t.get("history", [])
            for a in h.get("attachments") or []
            if a.get("stored_id")
        ]
        contacts = [
            h["contact_id"] for t in tickets for h in t.get("history", []) if h.get("contact_id")
        ]
        for file_id in files:
            await self._delete_file(file_id)
        writes = [UpdateOne({"_id": t["_id"]}, erased_ticket(t), upsert=False) for t in tickets]
        if writes:
            await self._tickets.bulk_write(writes, ordered=False)
        await self._decisions.delete_many({"_id": {"$in": contacts}})
        await self._threads.delete_many({"ticket_id": {"$in": event.ticket_ids}})
        await self._calls.delete_many({"ticket_id": {"$in": event.ticket_ids}})
        values = [i.partition(":")[2] or i for i in event.identities]
        if values:
            await self._suppressed.delete_many(
                {"$or": [{"headers": {"$regex": re.escape(v), "$options": "i"}} for v in values]}
            )
        await self._customers.update_many(
            {"_id": {"$in": event.customer_ids}},
            {
                "$set": {"identities": [], "recent": [], "erased_at": event.occurred_at},
                "$unset": {"merged_identities": ""},
            },
        )
        await self._merges.update_many(
            {
                "$or": [
                    {"survivor": {"$in": event.customer_ids}},
                    {"merged": {"$in": event.customer_ids}},
                ]
            },
            {"$set": {"identities": []}},
        )

    async def _delete_file(self, file_id: str) -> None:
        try:
            await self._files.delete(ObjectId(file_id))
        except (NoFile, InvalidId):
            pass


__all__ = [
    "CustomersChanged",
    "DecisionsChanged",
    "IntakeStore",
    "MongoIntakeStore",
    "StoredFile",
    "erased_ticket",
]
