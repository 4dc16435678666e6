"""Armed SLA tickets for `make bench-sla`: built once by the real domain, copied with shifted times.

Every stored ticket is a genuine `TicketSla` document: one routed through `transitions.routed`
(deadlines hours away), and one already past its warnings so that firing it publishes exactly
one `sla.breached`. Copies only move their instants, which keeps them consistent and cheap.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from devstack.pipeline import ROOT
from devstack.sla_config import write_fast_sla
from services.sla.domain import transitions
from services.sla.domain.clocks import ms
from services.sla.domain.ticket import Rules, TicketSla
from services.sla.store import HOME, _document
from services.sla.timer import DeadlineHeap
from services.sla.timer_index import Homes, timer_field
from shared.events import TicketRouted
from shared.mongo import Document

#: First response and resolution targets: a routed ticket's first warning is 12 hours away.
FIRST_RESPONSE = timedelta(hours=24)
RESOLUTION = timedelta(hours=72)
BATCH = 10_000


def bench_config() -> Path:
    """The shipped configuration with one 24x7 policy, so every clock is plain arithmetic."""
    folder = Path(tempfile.mkdtemp(prefix="helpdesk-bench-sla-"))
    shutil.copytree(ROOT / "config", folder, dirs_exist_ok=True)
    return write_fast_sla(folder, first_response="PT24H", resolution="PT72H")


def routed_event(ticket_id: str, at: datetime) -> TicketRouted:
    return TicketRouted(
        ticket_id=ticket_id,
        occurred_at=at,
        category="network",
        impact="low",
        urgency="low",
        priority="P4",
        tier="L1",
        team="network",
        reason="bench",
    )


class Templates:
    """A far ticket (routed at `at`) and a due ticket (every warning given, breach at `at`)."""

    def __init__(self, rules: Rules) -> None:
        self.at = ms(datetime.now(UTC))
        far = transitions.routed(
            TicketSla(ticket_id="far"), routed_event("far", self.at), rules, self.at, 0
        )
        started = self.at - FIRST_RESPONSE
        due = transitions.routed(
            TicketSla(ticket_id="due"), routed_event("due", started), rules, started, 0
        )
        warned = transitions.advance(due.ticket, rules, self.at - timedelta(milliseconds=1))
        first = warned.ticket.clock("first_response")
        assert first is not None and first.due_at == self.at == warned.ticket.next_at
        assert len(warned.notes) == 1  # the highest warning level speaks for all three
        self.far = _document(far.ticket, 1)
        self.due = _document(warned.ticket, 1)

    def copy(self, template: Document, ticket_id: str, partition: int, at: datetime) -> Document:
        """The template as ticket `ticket_id`, every instant moved by `at - self.at`."""
        delta = at - self.at
        doc = {k: v + delta if isinstance(v, datetime) else v for k, v in template.items()}
        doc["clocks"] = [
            {k: v + delta if isinstance(v, datetime) else v for k, v in clock.items()}
            for clock in template["clocks"]
        ]
        doc["_id"] = doc["ticket_id"] = doc["correlation_id"] = ticket_id
        doc["partition"] = partition
        return doc


async def insert_all(
    tickets: AsyncCollection[Document], count: int, build: Callable[[int], Document]
) -> float:
    """Insert `count` built documents in batches; the next batch is built while one is sent."""
    start = time.perf_counter()
    pending: asyncio.Task[Any] | None = None
    for first in range(0, count, BATCH):
        docs = [build(i) for i in range(first, min(count, first + BATCH))]
        if pending is not None:
            await pending
        pending = asyncio.create_task(tickets.insert_many(docs, ordered=False))
        await asyncio.sleep(0)  # let it encode and send before the next batch is built
    if pending is not None:
        await pending
    return count / (time.perf_counter() - start)


async def seed(
    tickets: AsyncCollection[Document],
    timers: AsyncCollection[Document],
    templates: Templates,
    ids: list[str],
    partitions: int,
    progress: Callable[[str], None],
) -> float:
    """Store every ticket armed hours ahead (first warnings within the next 6 to 12 hours)."""
    now = datetime.now(UTC)
    rng = random.Random(7)

    index: list[Document] = []

    def build(i: int) -> Document:
        started = now - timedelta(milliseconds=rng.randrange(6 * 3600 * 1000))
        doc = templates.copy(templates.far, ids[i], i % partitions, started)
        index.append(doc)
        return doc

    homes = Homes("seed")
    rate = await insert_all(tickets, len(ids), lambda i: housed(build(i), homes))
    progress(f"seeded {len(ids):,} armed tickets at {rate:,.0f} docs/s; indexing their timers")
    await index_entries(timers, index)
    return rate


def housed(doc: Document, homes: Homes) -> Document:
    """The ticket with a home bucket of the timer index, as the service gives one."""
    doc[HOME] = homes.take(doc["partition"])
    return doc


async def index_entries(timers: AsyncCollection[Document], docs: list[Document]) -> None:
    """The timer index of these tickets: their home buckets, new documents, in bulk inserts."""
    buckets: dict[str, Document] = {}
    for doc in docs:
        bucket = buckets.setdefault(
            doc[HOME], {"_id": doc[HOME], "partition": doc["partition"], "entries": {}}
        )
        epoch_ms = round(doc["next_at"].timestamp() * 1000)
        bucket["entries"][timer_field(doc["_id"])] = [epoch_ms, doc["version"]]
    values = list(buckets.values())
    for first in range(0, len(values), 1000):
        await timers.insert_many(values[first : first + 1000], ordered=False)


async def make_due(
    tickets: AsyncCollection[Document],
    timers: AsyncCollection[Document],
    templates: Templates,
    ids: list[str],
    partitions: int,
    start: datetime,
    span: timedelta,
) -> dict[str, datetime]:
    """Replace these tickets by ones whose breach falls due evenly over [start, start+span].

    Their new entries go in new home buckets; the old entries (hours later) stay behind, as a
    crash can leave them: the earliest entry of a ticket wins, and a later one finds nothing."""
    step = span / max(1, len(ids))
    due = {tid: ms(start + i * step) for i, tid in enumerate(ids)}
    for first in range(0, len(ids), 100):
        await tickets.delete_many({"_id": {"$in": ids[first : first + 100]}})
    homes = Homes(f"due{uuid.uuid4().hex[:6]}")
    docs = [
        housed(templates.copy(templates.due, tid, i % partitions, due[tid]), homes)
        for i, tid in enumerate(ids)
    ]
    await insert_all(tickets, len(ids), lambda i: docs[i])
    await index_entries(timers, docs)
    return due


def new_ids(count: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(count)]


def arming_rates(rules: Rules, count: int, partitions: int) -> tuple[float, float]:
    """Tickets per second through `routed` plus `DeadlineHeap.schedule`, and bare `call_at`."""
    ids = new_ids(count)
    now = ms(datetime.now(UTC))
    event = routed_event("bench", now)
    heap = DeadlineHeap()
    start = time.perf_counter()
    for i, tid in enumerate(ids):
        decision = transitions.routed(
            TicketSla(ticket_id=tid, partition=i % partitions), event, rules, now, i % partitions
        )
        assert decision.ticket.next_at is not None
        heap.schedule(tid, decision.ticket.next_at)
    service = count / (time.perf_counter() - start)

    loop = asyncio.new_event_loop()
    try:
        base = loop.time() + 3600
        start = time.perf_counter()
        handles = [loop.call_at(base + i * 1e-3, _nothing, tid) for i, tid in enumerate(ids)]
        baseline = count / (time.perf_counter() - start)
        for handle in handles:
            handle.cancel()
    finally:
        loop.close()
    return service, baseline


def _nothing(_: str) -> None:
    pass
