"""`make bench-insights`: the insights service over the events of many tickets (1,000,000 by
default), beside bare MongoDB in the same run.

- ingest: the events of every ticket (opened, routed, assigned, SLA, replies, transfers,
  resolutions, reopens, CSAT), in time order, through the service's consumer kit in batches
  of `--batch` records (parsing, folding, one read and one bulk write of facts per batch,
  timers), beside a bare `insert_many` of the same final fact documents;
- reports over those tickets: the monthly category report (two aggregations and the tree)
  beside the same `$match`/`$group` aggregation run bare; drill-downs (`CSAT <= 2`,
  `transferred 3+ times`, and `over 8 business hours`, which only the service can decide)
  beside a bare `find` of the same simple condition; the month's figures beside a bare read of
  the same documents.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import random
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient

from devstack.stack import LocalStack
from services.insights.config import load_config
from services.insights.domain.drill import Drill
from services.insights.handlers import register
from services.insights.service import InsightsService
from services.insights.settings import INSIGHTS_BATCH, InsightsSettings
from services.insights.store import FACTS, MongoInsightsStore
from shared.clock import FakeClock
from shared.consuming import ConsumerKit
from shared.events import (
    Event,
    SlaBreached,
    SlaMet,
    SlaStarted,
    TicketAgentReplied,
    TicketAssigned,
    TicketCsatReceived,
    TicketOpened,
    TicketRouted,
    TicketStatusChanged,
    TicketTransferred,
)
from shared.idempotency import MemoryGuard
from shared.mongo import Document, ensure_indexes

ROOT = Path(__file__).resolve().parents[1]
YEAR = datetime(2026, 1, 1, tzinfo=UTC)
CATEGORIES = [
    ("network", "wifi", "router"), ("network", "wifi", None), ("network", "vpn", None),
    ("software", "email", "outlook"), ("software", None, None), ("hardware", "printer", None),
    ("billing", "invoice", None), ("account", "password", None), ("general", None, None),
]  # fmt: skip
TEAMS = {"network": "technical", "software": "technical", "hardware": "technical",
         "billing": "accounts", "account": "accounts", "general": "service-desk"}  # fmt: skip
AGENTS = {"technical": ["ag-maria", "ag-nika", "ag-sergei", "ag-leon"],
          "accounts": ["ag-john", "ag-olga", "ag-darius"],
          "service-desk": ["ag-dina", "ag-petros"]}  # fmt: skip


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def ticket_events(n: int, rng: random.Random, opened: datetime) -> list[tuple[str, Event]]:
    """One ticket's events (topic name, event), from its opening on."""
    t = f"t{n:07d}"
    category, subcategory, item = rng.choice(CATEGORIES)
    team = TEAMS[category]
    agent = rng.choice(AGENTS[team])
    channel = rng.choice(("email", "email", "chat", "phone"))
    language = rng.choice(("en", "fa", "ru", "el"))
    s = timedelta(seconds=1)
    out: list[tuple[str, Event]] = [
        ("tickets", TicketOpened(ticket_id=t, reference=f"HD-{n:07d}", contact_id=f"c{n}",
                                 customer_id=f"cust{n % 200_000}", channel=channel,
                                 language=language, occurred_at=opened)),
        ("routing", TicketRouted(ticket_id=t, category=category, subcategory=subcategory,
                                 item=item, impact="medium", urgency="medium", priority="P3",
                                 tier="L1", team=team, reason="rules", occurred_at=opened + s)),
        ("sla", SlaStarted(ticket_id=t, metric="first_response", due_at=opened + 8 * 3600 * s,
                           target_seconds=28800, calendar="24x7", occurred_at=opened + 2 * s)),
        ("routing", TicketAssigned(ticket_id=t, agent_id=agent, team=team, reason="free",
                                   occurred_at=opened + rng.randrange(5, 3600) * s)),
    ]  # fmt: skip
    reply = opened + rng.randrange(60, 30 * 3600) * s
    out.append(("tickets", TicketAgentReplied(ticket_id=t, agent_id=agent, body="Done, thanks.",
                                              occurred_at=reply)))  # fmt: skip
    if reply - opened <= 8 * 3600 * s:
        out.append(("sla", SlaMet(ticket_id=t, metric="first_response", due_at=None,
                                  used_seconds=(reply - opened).total_seconds(),
                                  occurred_at=reply)))  # fmt: skip
    else:
        out.append(("sla", SlaBreached(ticket_id=t, metric="first_response",
                                       due_at=opened + 8 * 3600 * s, late_by_seconds=0.01,
                                       occurred_at=opened + 8 * 3600 * s)))  # fmt: skip
    if rng.random() < 0.1:
        for count in range(1, rng.choice((2, 3, 4))):
            out.append(("routing", TicketTransferred(
                ticket_id=t, from_team=team, to_team=team, transfer_count=count,
                reason="skills", occurred_at=reply + count * 60 * s)))  # fmt: skip
    if rng.random() < 0.85:
        resolved = reply + rng.randrange(60, 72 * 3600) * s
        out.append(("tickets", TicketStatusChanged(ticket_id=t, status="resolved",
                                                   occurred_at=resolved)))  # fmt: skip
        if rng.random() < 0.05:
            out.append(("tickets", TicketStatusChanged(
                ticket_id=t, status="reopened", occurred_at=resolved + 3600 * s)))  # fmt: skip
            out.append(("tickets", TicketStatusChanged(
                ticket_id=t, status="resolved", occurred_at=resolved + 7200 * s)))  # fmt: skip
        elif rng.random() < 0.3:
            score = rng.randint(1, 5)
            csat = TicketCsatReceived(ticket_id=t, score=score, occurred_at=resolved + 86400 * s)
            out.append(("tickets", csat))
    return out


def in_time_order(tickets: int, days: int, seed: int = 7) -> Iterator[tuple[str, Event]]:
    """Every ticket's events in the order they happened, without holding them all: tickets are
    made in the order they open, and an event waits in a heap only until no ticket opened later
    can have an earlier one."""
    rng = random.Random(seed)
    openings = sorted(rng.randrange(days * 86400) for _ in range(tickets))
    waiting: list[tuple[datetime, int, tuple[str, Event]]] = []
    order = 0
    for n, second in enumerate(openings):
        opened = YEAR + timedelta(seconds=second)
        while waiting and waiting[0][0] <= opened:
            yield heapq.heappop(waiting)[2]
        for topic_event in ticket_events(n, rng, opened):
            order += 1
            heapq.heappush(waiting, (topic_event[1].occurred_at, order, topic_event))
    while waiting:
        yield heapq.heappop(waiting)[2]


def records(events: Iterator[tuple[str, Event]], topics: dict[str, str]) -> Iterator[Any]:
    for offset, (topic, event) in enumerate(events):
        value = json.dumps(event.model_dump(mode="json")).encode()
        key = (event.ticket_id or "").encode()
        yield ConsumerRecord(topics[topic], 0, offset, 0, 0, key, value, None, len(key),
                             len(value), [])  # fmt: skip


async def timed(work: Callable[[], Awaitable[Any]], runs: int) -> tuple[float, Any]:
    """Median seconds of `runs` runs, and the last result."""
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = await work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


async def run(args: argparse.Namespace, mongo_url: str) -> None:
    settings = InsightsSettings(environment="local", mongo={"url": mongo_url,
                                "database_prefix": "benchinsights_"})  # fmt: skip
    rules = load_config(ROOT / "config")
    client: AsyncMongoClient[Document] = AsyncMongoClient(mongo_url, tz_aware=True)
    db, bare = client["benchinsights_insights"], client["benchinsights_bare"]
    await ensure_indexes(db, MongoInsightsStore.indexes())
    store = MongoInsightsStore(db)
    clock = FakeClock(YEAR + timedelta(days=args.days + 30))
    service = InsightsService(store, rules, clock, None)
    kit = ConsumerKit(KafkaBroker(), settings, MemoryGuard())
    register(kit, settings, service)
    spec = kit.subscriptions["insights.facts"]
    topics = {"tickets": settings.topics.tickets, "routing": settings.topics.routing,
              "sla": settings.topics.sla}  # fmt: skip

    say(f"ingesting the events of {args.tickets:,} tickets over {args.days} days, in time order")
    events = in_time_order(args.tickets, args.days)
    started = time.perf_counter()
    batch: list[Any] = []
    done = 0
    for record in records(events, topics):
        batch.append(record)
        if len(batch) == args.batch:
            await kit.consume(spec, batch)
            done, batch = done + len(batch), []
            if done % (args.batch * 100) == 0:
                rate = done / (time.perf_counter() - started)
                say(f"  {done:,} events, {rate:,.0f}/s")
    if batch:
        await kit.consume(spec, batch)
        done += len(batch)
    ingest = time.perf_counter() - started
    say(f"{done:,} events ({done / args.tickets:.1f} per ticket) in {ingest:,.0f} s")

    say("bare insert_many of the same fact documents")
    docs = [doc async for doc in db[FACTS].find({})]
    started = time.perf_counter()
    for start in range(0, len(docs), 1000):
        await bare["facts"].insert_many(docs[start : start + 1000], ordered=False)
    bare_insert = time.perf_counter() - started
    await ensure_indexes(bare, MongoInsightsStore.indexes())
    count = len(docs)
    del docs

    month = "2026-06" if args.days > 180 else "2026-01"
    since = datetime.strptime(f"{month}-01+0000", "%Y-%m-%d%z")
    until = (since + timedelta(days=32)).replace(day=1)
    say(f"reports over {count:,} facts: month {month}")
    tree_s, tree = await timed(lambda: service.categories(month, None), args.runs)

    async def bare_tree() -> list[Document]:
        before = (since - timedelta(days=1)).replace(day=1)
        out = []
        for low, high in ((since, until), (before, since)):
            cursor = await bare["facts"].aggregate([
                {"$match": {"opened_at": {"$gte": low, "$lt": high}}},
                {"$group": {"_id": {"c": "$category", "s": "$subcategory", "i": "$item"},
                            "count": {"$sum": 1}}},
            ])  # fmt: skip
            out += await cursor.to_list()
        return out

    bare_tree_s, groups = await timed(bare_tree, args.runs)
    rows: list[tuple[str, float, float, str]] = [
        ("monthly category report", tree_s, bare_tree_s,
         f"{tree.tickets:,} tickets, {len(groups)} groups"),
    ]  # fmt: skip
    for label, drill, query in [
        ("drill-down CSAT <= 2", Drill(csat_at_most=2), {"csat_score": {"$lte": 2}}),
        ("drill-down transferred 3+", Drill(transfers_at_least=3), {"transfers": {"$gte": 3}}),
        ("drill-down over 8 business h", Drill(first_response_over_business_hours=8), {}),
    ]:

        async def drilled(d: Drill = drill) -> int:
            return len([r async for r in service.tickets(since, until, d, None)])

        async def found(q: Document = query) -> int:
            wanted = {"opened_at": {"$gte": since, "$lt": until}, **q}
            return len(await bare["facts"].find(wanted).to_list())

        ours, n = await timed(drilled, args.runs)
        theirs, m = await timed(found, args.runs)
        rows.append((label, ours, theirs, f"{n:,} tickets; bare read {m:,}"))

    async def figures() -> int:
        return len(await service.figures(since, until, "week", "team", None))

    async def bare_window() -> int:
        window = {"opened_at": {"$lt": until},
                  "$or": [{"settled_at": None}, {"settled_at": {"$gte": since}}]}  # fmt: skip
        return len(await bare["facts"].find(window).to_list())

    ours, n = await timed(figures, 1)
    theirs, m = await timed(bare_window, 1)
    rows.append(("month's figures per week, team", ours, theirs, f"{n} groups; bare read {m:,}"))

    print()
    print(f"{'ingest':<32}{'service':>14}{'bare':>14}{'ratio':>9}")
    print(f"{'facts per second':<32}{count / ingest:>14,.0f}{count / bare_insert:>14,.0f}"
          f"{bare_insert / ingest:>8.3f}x")  # fmt: skip
    print(f"{'events per second':<32}{done / ingest:>14,.0f}{'-':>14}{'':>9}")
    print(f"{'seconds for all':<32}{ingest:>14,.1f}{bare_insert:>14,.1f}")
    print()
    print(f"{'report (median of runs), ms':<32}{'service':>14}{'bare':>14}{'ratio':>9}  what")
    for label, ours, theirs, what in rows:
        print(f"{label:<32}{ours * 1000:>14,.0f}{theirs * 1000:>14,.0f}"
              f"{ours / theirs if theirs else float('nan'):>8.2f}x  {what}")  # fmt: skip
    await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench-insights", description=__doc__)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365, help="the tickets' span, from 2026-01-01")
    parser.add_argument(
        "--batch", type=int, default=INSIGHTS_BATCH, help="records per consumed batch"
    )
    parser.add_argument("--runs", type=int, default=5, help="runs of each report query")
    args = parser.parse_args()
    with LocalStack(expiry_sweep_seconds=0) as endpoints:
        asyncio.run(run(args, endpoints.mongo_url))


if __name__ == "__main__":
    main()
