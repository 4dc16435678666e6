"""What the customer portal keeps: sign-in links and sessions, each under the SHA-256 of its
secret (a copy of the database opens nothing), with its expiry; MongoDB and in memory."""

from __future__ import annotations

import copy
import hashlib
from datetime import datetime
from typing import Literal, Protocol

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from shared.mongo import Document, Indexes

Kind = Literal["link", "session"]
COLLECTION = "portal_grants"


def digest(secret: str) -> str:
    """How a link's token or a session's id is kept and looked up."""
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


class PortalStore(Protocol):
    async def grant(self, kind: Kind, secret: str, fields: Document) -> None: ...
    async def take_link(self, secret: str, now: datetime) -> Document | None: ...
    async def session(self, secret: str, now: datetime) -> Document | None: ...
    async def end_session(self, secret: str) -> None: ...


class MongoPortalStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._grants = db[COLLECTION]

    @staticmethod
    def indexes() -> list[Indexes]:
        # MongoDB removes what expired by itself; every read checks the expiry as well.
        expiry = IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0)
        return [Indexes(COLLECTION, [expiry])]

    async def grant(self, kind: Kind, secret: str, fields: Document) -> None:
        await self._grants.insert_one({**fields, "_id": digest(secret), "kind": kind})

    async def take_link(self, secret: str, now: datetime) -> Document | None:
        """The link's grant, deleted in the same step: a link opens one session, once."""
        return await self._grants.find_one_and_delete(
            {"_id": digest(secret), "kind": "link", "expires_at": {"$gt": now}}
        )

    async def session(self, secret: str, now: datetime) -> Document | None:
        return await self._grants.find_one(
            {"_id": digest(secret), "kind": "session", "expires_at": {"$gt": now}}
        )

    async def end_session(self, secret: str) -> None:
        await self._grants.delete_one({"_id": digest(secret), "kind": "session"})


class MemoryPortalStore:
    def __init__(self) -> None:
        self.grants: dict[str, Document] = {}

    async def grant(self, kind: Kind, secret: str, fields: Document) -> None:
        self.grants[digest(secret)] = {**copy.deepcopy(fields), "_id": digest(secret), "kind": kind}

    def _live(self, secret: str, kind: Kind, now: datetime) -> Document | None:
        found = self.grants.get(digest(secret))
        if found is None or found["kind"] != kind or found["expires_at"] <= now:
            return None
        return found

    async def take_link(self, secret: str, now: datetime) -> Document | None:
        found = self._live(secret, "link", now)
        if found is not None:
            del self.grants[found["_id"]]
        return found

    async def session(self, secret: str, now: datetime) -> Document | None:
        return copy.deepcopy(self._live(secret, "session", now))

    async def end_session(self, secret: str) -> None:
        found = self.grants.get(digest(secret))
        if found is not None and found["kind"] == "session":
            del self.grants[found["_id"]]
