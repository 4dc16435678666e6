"""What `make bench` watches: when each stage's event for each ticket arrives on its topic, the
services' own counters (database commands and documents, publishes), and the database's bulk
rate measured on the same server in the same run."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field

import httpx
from aiokafka import AIOKafkaConsumer
from pymongo import AsyncMongoClient, UpdateOne

#: Stage -> (topic setting, event type) of the event that marks a ticket through that stage.
STAGES: dict[str, tuple[str, str]] = {
    "ticket.opened": ("tickets", "ticket.opened"),
    "ticket.routed": ("routing", "ticket.routed"),
    "ticket.assigned": ("routing", "ticket.assigned"),
    "sla.started": ("sla", "sla.started"),
    "kb.suggested": ("kb", "kb.suggested"),
    "notifier push": ("notifications", "notification.pushed"),
    # The assignee's email, sent and acknowledged by the mail server.
    "notifier email": ("notifications", "notification.delivered"),
}
#: Stages whose events are keyed by something else than the ticket (deliveries: by recipient):
#: their ticket id is read from the event.
KEYED_BY_OTHER = {"notifier email"}


class StageWatcher:
    """Reads the stages' topics from their end on, noting the first arrival per (stage, ticket).

    Only the record's key (the ticket id) and its `event_type` header are read: parsing every
    event's JSON would take the machine's time from the services being measured. Deliveries,
    keyed by recipient, are the exception: one per contact.
    """

    def __init__(self, bootstrap: str, topics: dict[str, str]) -> None:
        self.arrived: dict[str, dict[str, float]] = defaultdict(dict)
        self._wanted: dict[tuple[str, str], str] = {
            (topics[setting], event_type): stage for stage, (setting, event_type) in STAGES.items()
        }
        names = sorted({topic for topic, _ in self._wanted})
        self._consumer = AIOKafkaConsumer(
            *names, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="latest"
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        await self._consumer.seek_to_end()
        self._task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        async for record in self._consumer:
            kind = dict(record.headers or ()).get("event_type", b"").decode()
            stage = self._wanted.get((record.topic, kind))
            if stage is None:
                continue
            if stage in KEYED_BY_OTHER:
                ticket_id = json.loads(record.value or b"{}").get("ticket_id")
                key = ticket_id.encode() if isinstance(ticket_id, str) else None
            else:
                key = record.key
            if key:
                self.arrived[stage].setdefault(key.decode(), time.perf_counter())

    async def wait_for(self, stage: str, keys: set[str], timeout: float) -> None:
        deadline = time.perf_counter() + timeout
        while not keys <= self.arrived[stage].keys():
            if time.perf_counter() > deadline:
                missing = len(keys - self.arrived[stage].keys())
                raise TimeoutError(
                    f"{stage}: {missing} of {len(keys)} missing after {timeout:.0f}s"
                )
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        await self._consumer.stop()


_SAMPLE = re.compile(r"^(helpdesk_[a-z_]+_total)\{([^}]*)\}\s+([0-9.e+]+)$", re.MULTILINE)
_LABEL = re.compile(r'(\w+)="([^"]*)"')
_READS = {"find", "getMore", "aggregate"}


@dataclass
class Counters:
    """One service's totals: database commands, documents inserted, updated and read, events
    published."""

    commands: float = 0.0
    inserted: float = 0.0
    updated: float = 0.0
    read: float = 0.0
    published: float = 0.0
    #: seconds the database took, by "command collection"
    waited: dict[str, float] = field(default_factory=dict)

    def __sub__(self, other: Counters) -> Counters:
        return Counters(
            self.commands - other.commands,
            self.inserted - other.inserted,
            self.updated - other.updated,
            self.read - other.read,
            self.published - other.published,
            {k: v - other.waited.get(k, 0.0) for k, v in self.waited.items()},
        )

    def __add__(self, other: Counters) -> Counters:
        keys = self.waited.keys() | other.waited.keys()
        return Counters(
            self.commands + other.commands,
            self.inserted + other.inserted,
            self.updated + other.updated,
            self.read + other.read,
            self.published + other.published,
            {k: self.waited.get(k, 0.0) + other.waited.get(k, 0.0) for k in keys},
        )

    def slowest(self, count: int) -> list[tuple[str, float]]:
        """The `count` commands the database spent longest on."""
        return sorted(self.waited.items(), key=lambda kv: -kv[1])[:count]

    def per(self, count: int) -> Counters:
        return Counters(
            self.commands / count,
            self.inserted / count,
            self.updated / count,
            self.read / count,
            self.published / count,
            {k: v / count for k, v in self.waited.items()},
        )


async def scrape(urls: dict[str, str], token: str) -> dict[str, Counters]:
    """Each service's counters from its `/metrics` (an operator's token)."""
    found: dict[str, Counters] = {}
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=10, headers=headers) as client:
        for name, url in urls.items():
            answer = await client.get(f"{url}/metrics")
            answer.raise_for_status()
            text = answer.text
            counters = Counters()
            for metric, labels, value in _SAMPLE.findall(text):
                named = dict(_LABEL.findall(labels))
                label = named.get("command", "")
                amount = float(value)
                if metric == "helpdesk_db_seconds_total":
                    counters.waited[f"{label} {named.get('collection', '-')}"] = amount
                elif metric == "helpdesk_db_commands_total":
                    counters.commands += amount
                elif metric == "helpdesk_events_published_total":
                    counters.published += amount
                elif metric == "helpdesk_db_documents_total":
                    if label == "insert":
                        counters.inserted += amount
                    elif label in _READS:
                        counters.read += amount
                    else:
                        counters.updated += amount
            found[name] = counters
    return found


@dataclass
class DatabaseRate:
    """Documents per second the database takes in bulk: inserted, updated, read by id."""

    inserted_per_s: float
    updated_per_s: float
    read_per_s: float

    def seconds_per_contact(self, cost: Counters) -> float:
        """The database's own time for one contact's documents, at these rates."""
        return (
            cost.inserted / self.inserted_per_s
            + cost.updated / self.updated_per_s
            + cost.read / self.read_per_s
        )


async def database_rate(mongo_url: str, documents: int = 4000, chunk: int = 100) -> DatabaseRate:
    """Bulk inserts and bulk upserts per second on this server, in chunks as the services write."""
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_url)
    collection = client["bench_rate"]["documents"]
    try:
        started = time.perf_counter()
        for first in range(0, documents, chunk):
            docs = [
                {"_id": f"d{i}", "n": i, "text": "x" * 200} for i in range(first, first + chunk)
            ]
            await collection.insert_many(docs, ordered=False)
        inserted = documents / (time.perf_counter() - started)
        started = time.perf_counter()
        for first in range(0, documents, chunk):
            await collection.bulk_write(
                [
                    UpdateOne({"_id": f"d{i}"}, {"$set": {"seen": True}, "$inc": {"n": 1}})
                    for i in range(first, first + chunk)
                ],
                ordered=False,
            )
        updated = documents / (time.perf_counter() - started)
        started = time.perf_counter()
        for first in range(0, documents, chunk):
            ids = [f"d{i}" for i in range(first, first + chunk)]
            await collection.find({"_id": {"$in": ids}}).to_list()
        read = documents / (time.perf_counter() - started)
        await client.drop_database("bench_rate")
    finally:
        await client.close()
    return DatabaseRate(inserted, updated, read)
