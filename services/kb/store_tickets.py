"""The tickets the knowledge base has heard of, in MongoDB: one document per ticket, merged from
`ticket.opened` and `ticket.routed` in bulk writes, read back in chunked reads."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from services.kb.domain.tickets import OfferClaim, Opened, TicketNote, TicketSeen
from shared.events import ArticleMatch
from shared.mongo import DUPLICATE_KEY, Document, find_by_ids


async def bulk_upsert(collection: AsyncCollection[Document], ops: Sequence[UpdateOne]) -> None:
    """The updates in one write. Two replicas upserting one new `_id` at once may leave one
    refused with a duplicate key: the document exists now, so those are simply tried again."""
    if not ops:
        return
    try:
        await collection.bulk_write(list(ops), ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if not errors or any(error.get("code") != DUPLICATE_KEY for error in errors):
            raise
        await collection.bulk_write([ops[error["index"]] for error in errors], ordered=False)


def _fields(note: TicketNote) -> Document:
    if isinstance(note, Opened):
        return {
            "reference": note.reference,
            "language": note.language,
            "subject": note.subject,
            "suggestions": [m.model_dump() for m in note.suggestions],
        }
    return {"category": note.category, "subcategory": note.subcategory}


def _matches(docs: Any) -> tuple[ArticleMatch, ...]:
    return tuple(ArticleMatch.model_validate(doc) for doc in docs or ())


def _seen(doc: Document) -> TicketSeen:
    suggestions = doc.get("suggestions")
    return TicketSeen(
        ticket_id=str(doc["_id"]),
        reference=doc.get("reference"),
        language=doc.get("language"),
        subject=doc.get("subject"),
        suggestions=None if suggestions is None else _matches(suggestions),
        category=doc.get("category"),
        subcategory=doc.get("subcategory"),
        offered=_matches(doc.get("offered")),
        offer_id=doc.get("offer_id"),
    )


class MongoTickets:
    """Collection `tickets`: read and written by `_id` only, so it needs no index of its own."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._tickets = db["tickets"]

    async def ticket(self, ticket_id: str) -> TicketSeen | None:
        doc = await self._tickets.find_one({"_id": ticket_id})
        return _seen(doc) if doc else None

    async def tickets(self, ticket_ids: Iterable[str]) -> dict[str, TicketSeen]:
        found = await find_by_ids(self._tickets, ticket_ids)
        return {ticket_id: _seen(doc) for ticket_id, doc in found.items()}

    async def note_tickets(self, notes: Mapping[str, TicketNote]) -> None:
        ops = [
            UpdateOne({"_id": ticket_id}, {"$set": _fields(note)}, upsert=True)
            for ticket_id, note in notes.items()
        ]
        await bulk_upsert(self._tickets, ops)

    async def claim_offers(self, claims: Mapping[str, OfferClaim]) -> set[str]:
        if not claims:
            return set()
        ops = [
            UpdateOne(
                {"_id": ticket_id, "offered": {"$exists": False}},
                {
                    "$set": {
                        "offered": [m.model_dump() for m in claim.articles],
                        "offer_id": claim.offer_id,
                    }
                },
            )
            for ticket_id, claim in claims.items()
        ]
        result = await self._tickets.bulk_write(ops, ordered=False)
        if result.matched_count == len(ops):
            return set(claims)
        # Some were offered before: by the other subscriber, or by an earlier try of this one.
        held = await find_by_ids(self._tickets, claims, {"offer_id": 1})
        return {t for t, doc in held.items() if doc.get("offer_id") == claims[t].offer_id}

    async def forget_tickets(self, ticket_ids: Sequence[str]) -> None:
        if ticket_ids:
            await self._tickets.delete_many({"_id": {"$in": list(ticket_ids)}})
