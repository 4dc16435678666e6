"""Customers in MongoDB: one record holds every identity; records merge when a contact proves
two are one person, and every merge is kept in an audit trail."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.intake.domain.view import RECENT_KEPT, Changes, Merge
from shared.ids import derived_id
from shared.logging import get_logger
from shared.mongo import Document, Indexes, chunked

log = get_logger(__name__)


class CustomersChanged(RuntimeError):
    """Another replica recorded one of these identities meanwhile: the batch is decided again
    on what it wrote (a merge, most likely)."""


class MongoCustomers:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._customers = db["customers"]
        self._merges = db["customer_merges"]
        self._tickets = db["tickets"]

    @staticmethod
    def indexes() -> list[Indexes]:
        return [
            Indexes("customers", [IndexModel([("identities", ASCENDING)], unique=True)]),
            Indexes("customer_merges", [IndexModel([("survivor", ASCENDING)])]),
        ]

    async def customers_with(self, keys: Iterable[str]) -> list[Document]:
        """The customer records holding any of these identities, in chunked reads."""
        found: dict[str, Document] = {}
        for chunk in chunked(list(dict.fromkeys(keys))):
            async for doc in self._customers.find({"identities": {"$in": chunk}}):
                found[doc["_id"]] = doc
        return list(found.values())

    async def save_customers(self, changes: Changes) -> None:
        """New customers, identities added and merges, before any decision is kept."""
        if changes.new_customers:
            docs = list(changes.new_customers.values())
            try:
                await self._customers.insert_many(docs, ordered=False)
            except BulkWriteError as exc:
                # The same record (a derived id) or an identity another record holds: either
                # way another replica got there first, and the batch must see what it wrote.
                raise CustomersChanged(str(exc.details.get("writeErrors", [])[:1])) from exc
        adds = [
            UpdateOne({"_id": cid}, {"$addToSet": {"identities": {"$each": keys}}})
            for cid, keys in changes.identities_added.items()
        ]
        if adds:
            try:
                await self._customers.bulk_write(adds, ordered=False)
            except BulkWriteError as exc:
                raise CustomersChanged(str(exc.details.get("writeErrors", [])[:1])) from exc
        for merge in changes.merges:
            await self._merge(merge)

    async def _merge(self, merge: Merge) -> None:
        """Move the merged record's identities and tickets to the keeper; the merged record
        points onward. Each step can be repeated, so a crash halfway is finished by a replay."""
        other, keeper_id = merge.merged, merge.keeper_id
        moved = list(other.get("identities") or other.get("merged_identities") or [])
        await self._customers.update_one(
            {"_id": other["_id"]},
            {"$set": {"identities": [], "merged_into": keeper_id, "merged_identities": moved}},
        )
        await self._customers.update_one(
            {"_id": keeper_id},
            {
                "$addToSet": {"identities": {"$each": moved}},
                "$push": {"recent": {"$each": other.get("recent", []), "$slice": -RECENT_KEPT}},
            },
        )
        await self._tickets.update_many(
            {"customer_id": other["_id"]}, {"$set": {"customer_id": keeper_id}}
        )
        audit = {
            "_id": str(derived_id("merge", keeper_id, other["_id"])),
            "survivor": keeper_id,
            "merged": other["_id"],
            "identities": moved,
            "proved_by_contact": merge.contact_id,
            "merged_at": datetime.now(UTC),
        }
        try:
            await self._merges.insert_one(audit)
        except DuplicateKeyError:
            pass
        log.info(
            "customer.merged", survivor=keeper_id, merged=other["_id"], contact_id=merge.contact_id
        )

    async def remember_recent(self, recent: list[tuple[str, Document]]) -> None:
        """Each new ticket's topic on its customer's record (the newest few), once."""
        writes = [
            UpdateOne(
                {"_id": customer_id, "recent._id": {"$ne": topic["_id"]}},
                {"$push": {"recent": {"$each": [topic], "$slice": -RECENT_KEPT}}},
            )
            for customer_id, topic in recent
        ]
        if writes:
            await self._customers.bulk_write(writes, ordered=True)

    async def customer(self, customer_id: str) -> Document | None:
        """The customer, following merges to the surviving record."""
        for _ in range(10):
            doc = await self._customers.find_one({"_id": customer_id})
            if doc is None or not doc.get("merged_into"):
                return doc
            customer_id = doc["merged_into"]
        return None

    async def merges_of(self, customer_id: str) -> list[dict[str, Any]]:
        cursor = self._merges.find({"survivor": customer_id}).sort("merged_at", ASCENDING)
        return [doc async for doc in cursor]
