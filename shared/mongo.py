"""The MongoDB client factory (PyMongo's asyncio API) and index creation at start."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from shared.settings import MongoSettings

Document = dict[str, Any]


def make_mongo_client(settings: MongoSettings) -> AsyncMongoClient[Document]:
    """A client for one service; it connects lazily, on first use."""
    return AsyncMongoClient(settings.url, tz_aware=True, uuidRepresentation="standard")


@dataclass(frozen=True)
class Indexes:
    """The indexes one collection needs."""

    collection: str
    models: list[IndexModel] = field(default_factory=list)


async def ensure_indexes(db: AsyncDatabase[Document], specs: Iterable[Indexes]) -> None:
    """Create every index a service declares; creating an existing index is a no-op."""
    for spec in specs:
        if spec.models:
            await db[spec.collection].create_indexes(spec.models)
