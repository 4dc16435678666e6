"""The MongoDB client factory (PyMongo's asyncio API), index creation at start, and the helpers
every store's bulk work shares: chunked reads, inserts that tolerate repeats, command counts."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import structlog
from prometheus_client import Counter
from pymongo import AsyncMongoClient, IndexModel, monitoring
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from shared.settings import MongoSettings

Document = dict[str, Any]
T = TypeVar("T")

#: Ids per `$in` read. A query's cost grows with the number of ids times the documents it
#: checks them against, so large batches read in chunks of this size.
IN_CHUNK = 100
DUPLICATE_KEY = 11000

#: The lower bound of `due_by`: earlier than any date a store keeps.
EARLIEST = datetime(1, 1, 1, tzinfo=UTC)


def due_by(at: datetime) -> Document:
    """The condition "a date is set and is at or before `at`", for a query on a date field that
    is unset (null) while nothing is due. An index orders null before every date, so a bare
    `{"$lte": at}` walks every entry with the date unset (each assigned ticket nobody must
    acknowledge, each ladder at its last rung) before it reaches the first due one: a read
    whose cost grows with the open tickets. The lower bound keeps the walk to set dates."""
    return {"$gte": EARLIEST, "$lte": at}


DB_COMMANDS = Counter(
    "helpdesk_db_commands",
    "MongoDB commands this process sent, by command name and collection.",
    ["command", "collection"],
)


DB_DOCUMENTS = Counter(
    "helpdesk_db_documents",
    "Documents this process's MongoDB commands wrote (insert, update, delete) or read (find), "
    "by command and collection.",
    ["command", "collection"],
)
_WRITES = {"insert": "documents", "update": "updates", "delete": "deletes"}


DB_SECONDS = Counter(
    "helpdesk_db_seconds",
    "Seconds this process's MongoDB commands took, from sending to the answer, by command "
    "and collection.",
    ["command", "collection"],
)


class CommandCounter(monitoring.CommandListener):
    """Counts every command the client sends, the documents it writes or reads, and the time
    each took per collection (the benchmark reads them per contact, so a regression in round
    trips or in the database's work shows in numbers)."""

    def __init__(self, slow_ms: float = 0.0) -> None:
        self._collections: dict[int, str] = {}
        self._slow_us = slow_ms * 1000
        self._shapes: dict[int, Document] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        collection = target if isinstance(target, str) else event.command.get("collection", "-")
        self._collections[event.request_id] = str(collection)
        if self._slow_us:
            self._shapes[event.request_id] = command_shape(event.command_name, event.command)
        DB_COMMANDS.labels(event.command_name, collection).inc()
        items = _WRITES.get(event.command_name)
        if items is not None:
            count = len(event.command.get(items, ()))
            DB_DOCUMENTS.labels(event.command_name, collection).inc(count)
        elif event.command_name == "findAndModify":
            DB_DOCUMENTS.labels(event.command_name, collection).inc()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        collection = self._timed(event)
        if event.command_name in ("find", "getMore", "aggregate"):
            cursor = event.reply.get("cursor") or {}
            batch = cursor.get("firstBatch", cursor.get("nextBatch", ()))
            DB_DOCUMENTS.labels(event.command_name, collection).inc(len(batch))

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._timed(event)

    def _timed(
        self, event: monitoring.CommandSucceededEvent | monitoring.CommandFailedEvent
    ) -> str:
        collection = self._collections.pop(event.request_id, "-")
        DB_SECONDS.labels(event.command_name, collection).inc(event.duration_micros / 1e6)
        shape = self._shapes.pop(event.request_id, None)
        if shape is not None and event.duration_micros >= self._slow_us:
            _log.warning(
                "slow_db_command",
                command=event.command_name,
                collection=collection,
                ms=round(event.duration_micros / 1000, 1),
                **shape,
            )
        return collection


_log = structlog.get_logger("helpdesk.mongo")

#: The parts of each command whose shape the slow-command log shows.
_SHAPED = {
    "find": ("filter", "sort"),
    "findAndModify": ("query", "sort"),
    "count": ("query",),
    "distinct": ("query",),
}


def command_shape(name: str, command: Any) -> Document:
    """What a command asks, without its values: `{"status": "?", "send_at": {"$lte": "?"}}`."""
    shape: Document = {}
    for part in _SHAPED.get(name, ()):
        if part in command:
            shape[part] = _shape(command[part])
    if name in ("update", "delete"):
        statements = command.get("updates" if name == "update" else "deletes") or []
        shape["statements"] = len(statements)
        if statements:
            shape["filter"] = _shape(statements[0].get("q", {}))
    elif name == "aggregate":
        shape["pipeline"] = [_shape(stage) for stage in command.get("pipeline", [])]
    return shape


def _shape(value: Any, depth: int = 0) -> Any:
    if isinstance(value, dict) and depth < 4:
        return {str(k): _shape(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list) and depth < 4 and value and isinstance(value[0], dict):
        return [_shape(v, depth + 1) for v in value[:3]]
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and depth
        and value in (1, -1)
    ):
        return value  # sort and projection directions
    return "?"


def make_mongo_client(settings: MongoSettings) -> AsyncMongoClient[Document]:
    """A client for one service; it connects lazily, on first use."""
    return AsyncMongoClient(
        settings.url,
        tz_aware=True,
        uuidRepresentation="standard",
        event_listeners=[CommandCounter(settings.slow_command_ms)],
    )


def chunked(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


async def find_by_ids(
    collection: AsyncCollection[Document],
    ids: Iterable[Any],
    projection: Document | None = None,
    *,
    field_name: str = "_id",
) -> dict[Any, Document]:
    """The documents whose `field_name` is one of `ids`, keyed by it, in chunked reads."""
    wanted = list(dict.fromkeys(ids))
    found: dict[Any, Document] = {}
    for chunk in chunked(wanted):
        async for doc in collection.find({field_name: {"$in": chunk}}, projection):
            found[doc[field_name]] = doc
    return found


async def insert_new(collection: AsyncCollection[Document], docs: Sequence[Document]) -> set[Any]:
    """Insert the documents in one write; those whose `_id` exists already are left as they are.
    Returns the ids that existed."""
    if not docs:
        return set()
    try:
        await collection.insert_many(list(docs), ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(error.get("code") != DUPLICATE_KEY for error in errors):
            raise
        return {docs[error["index"]]["_id"] for error in errors}
    return set()


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
