"""Customers in MongoDB: one record holds every identity; records merge when a contact proves
two are one person, and every merge is kept in an audit trail."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.intake.domain import Identity, customer_id_for, survivor
from shared.ids import derived_id
from shared.logging import get_logger
from shared.mongo import Document, Indexes

log = get_logger(__name__)


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

    async def recognise(self, identities: list[Identity], contact_id: str) -> Document:
        """The customer these identities belong to: created if new, merged if several."""
        keys = [i.key for i in identities]
        found = [c async for c in self._customers.find({"identities": {"$in": keys}})]
        if not found:
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
                found = [c async for c in self._customers.find({"identities": {"$in": keys}})]
                if not found:
                    raise
        keeper = survivor(found)
        for other in found:
            if other["_id"] != keeper["_id"]:
                await self._merge(keeper, other, contact_id)
        missing = [k for k in keys if k not in keeper["identities"]]
        if missing:
            await self._customers.update_one(
                {"_id": keeper["_id"]}, {"$addToSet": {"identities": {"$each": missing}}}
            )
        return await self._customers.find_one({"_id": keeper["_id"]}) or keeper

    async def _merge(self, keeper: Document, other: Document, contact_id: str) -> None:
        """Move `other`'s identities and tickets to `keeper`; the merged record points onward.
        Each step can be repeated, so a crash halfway is finished by the next contact."""
        moved = list(other["identities"])
        await self._customers.update_one(
            {"_id": other["_id"]},
            {"$set": {"identities": [], "merged_into": keeper["_id"], "merged_identities": moved}},
        )
        await self._customers.update_one(
            {"_id": keeper["_id"]}, {"$addToSet": {"identities": {"$each": moved}}}
        )
        await self._tickets.update_many(
            {"customer_id": other["_id"]}, {"$set": {"customer_id": keeper["_id"]}}
        )
        audit = {
            "_id": str(derived_id("merge", keeper["_id"], other["_id"])),
            "survivor": keeper["_id"],
            "merged": other["_id"],
            "identities": moved,
            "proved_by_contact": contact_id,
            "merged_at": datetime.now(UTC),
        }
        try:
            await self._merges.insert_one(audit)
        except DuplicateKeyError:
            pass
        keeper["identities"] = list(dict.fromkeys([*keeper["identities"], *moved]))
        log.info(
            "customer.merged", survivor=keeper["_id"], merged=other["_id"], contact_id=contact_id
        )

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
