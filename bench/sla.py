"""`make bench-sla`: the SLA service holding a million armed deadlines, beside bare asyncio.

Measured on a real broker (Tansu) and database (SecantusDB), all in one run:
- memory above the process baseline: RSS with every deadline loaded minus RSS of the same
  service on an empty database; the baseline is the RSS growth of a bare asyncio process that
  holds the same deadlines as `loop.call_at` handles;
- arming rate: `transitions.routed` plus `DeadlineHeap.schedule` in process, against `call_at`;
- firing lateness: receive time of each `sla.breached` on Kafka minus its `due_at`, for
  tickets falling due over a window while routed contacts keep flowing; the baseline's
  callbacks publish a small JSON at their time, read by the same consumer;
- reload: from process start until every stored deadline is armed again.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from bench.sla_baseline import rss_mb
from bench.sla_data import Templates, arming_rates, bench_config, make_due, new_ids, seed
from bench.sla_procs import Breaches, LoggedProcess, contacts_flow, loaded_at
from devstack.pipeline import run_topics, topic_env
from devstack.stack import LocalStack, StackEndpoints, free_port
from services.sla.config import load_config
from shared.mongo import Document
from shared.settings import TopicSettings

SETTLE_SECONDS = 3.0  # after loading, before RSS is read: let the last batches be freed


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


@dataclass
class Lateness:
    received: int
    duplicates: int
    p50_ms: float
    p99_ms: float
    max_ms: float


def lateness(breaches: Breaches) -> Lateness:
    firsts = sorted(min(values) * 1000 for values in breaches.late.values())
    if not firsts:
        return Lateness(0, 0, float("nan"), float("nan"), float("nan"))
    dupes = sum(len(values) - 1 for values in breaches.late.values())
    pick = lambda share: firsts[min(len(firsts) - 1, int(share * len(firsts)))]  # noqa: E731
    return Lateness(len(firsts), dupes, pick(0.5), pick(0.99), firsts[-1])


@dataclass
class Bench:
    args: argparse.Namespace
    endpoints: StackEndpoints
    topics: TopicSettings
    env: dict[str, str]
    tickets: AsyncCollection[Document]
    timers: AsyncCollection[Document]
    templates: Templates
    due_ids: list[str]
    children: list[LoggedProcess] = field(default_factory=list)

    def log(self, name: str) -> Path | None:
        if self.args.log_dir is None:
            return None
        self.args.log_dir.mkdir(parents=True, exist_ok=True)
        return Path(self.args.log_dir) / f"{time.strftime('%H%M%S')}-{name}.log"

    def service(self) -> LoggedProcess:
        env = {**self.env, "HELPDESK_HTTP_PORT": str(free_port())}
        return self.keep(LoggedProcess("services.sla", env, log_path=self.log("sla")))

    def keep(self, proc: LoggedProcess) -> LoggedProcess:
        """Remember a child process, so that an error or Ctrl-C anywhere still stops it."""
        self.children.append(proc)
        return proc

    async def stop_all(self) -> None:
        for proc in self.children:
            await proc.stop()

    async def loaded_service(self, expected: int) -> tuple[LoggedProcess, float, float]:
        """Start the service; seconds from process start, and from partition assignment, until
        its `sla.partitions_loaded` lines add up to `expected`."""
        proc = await self.service().start()
        done = await proc.wait_for(lambda: loaded_at(proc, expected), self.args.timeout)
        assigned = proc.assigned_at if proc.assigned_at is not None else float("nan")
        return proc, done - proc.started, done - assigned

    async def window(self, after_seconds: float) -> dict[str, datetime]:
        """Re-store the due tickets to fall due over the window starting in `after_seconds`."""
        start = datetime.now(UTC) + timedelta(seconds=after_seconds)
        span = timedelta(seconds=self.args.window)
        return await make_due(
            self.tickets,
            self.timers,
            self.templates,
            self.due_ids,
            self.args.partitions,
            start,
            span,
        )

    async def measure_lateness(
        self, breaches: Breaches, due: dict[str, datetime], flow: bool
    ) -> tuple[Lateness, int, int]:
        """Wait out the window (contacts flowing if asked); breaches seen, contacts sent, and
        how many of those were armed by the window's end."""
        begin = min(due.values()).timestamp()
        if time.time() > begin:
            raise SystemExit(
                f"the firing window began {time.time() - begin:.0f}s before the service was "
                "ready, so lateness cannot be measured: give it more time with --lead"
            )
        end = max(due.values()).timestamp()
        sent: list[str] = []
        if flow:
            sent = await contacts_flow(
                self.endpoints.bootstrap_servers, self.topics.routing, self.args.rate, end
            )
        await asyncio.sleep(max(0.0, end - time.time()))
        armed = 0
        for first in range(0, len(sent), 100):
            armed += await self.tickets.count_documents(
                {"_id": {"$in": sent[first : first + 100]}, "next_at": {"$ne": None}}
            )
        await breaches.wait_all(timeout=60)
        await asyncio.sleep(2)  # late duplicates, if any
        return lateness(breaches), len(sent), armed


async def create_topics(endpoints: StackEndpoints, topics: TopicSettings, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=endpoints.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1) for name in topics.all()])
    finally:
        await admin.close()


async def run(args: argparse.Namespace, config_dir: Path) -> list[tuple[str, ...]]:
    rules = load_config(config_dir)
    say(f"arming {args.arm:,} tickets in process (routed + DeadlineHeap) and as call_at")
    arm_service, arm_base = arming_rates(rules, args.arm, args.partitions)
    suffix = uuid.uuid4().hex[:8]
    # In memory, SecantusDB's store lives in its cache: a million tickets need a large one.
    with LocalStack(mongo_cache=args.mongo_cache) as endpoints:
        topics = run_topics(suffix)
        await create_topics(endpoints, topics, args.partitions)
        prefix = f"bench{suffix}_"
        env = {
            **endpoints.env(),
            **topic_env(suffix),
            "HELPDESK_MONGO__DATABASE_PREFIX": prefix,
            "HELPDESK_KAFKA__PARTITIONS": str(args.partitions),
            "HELPDESK_LOGGING__FORMAT": "json",
            "HELPDESK_LOGGING__LEVEL": "INFO",
            "HELPDESK_CONFIG_DIR": str(config_dir),
            "HELPDESK_ENVIRONMENT": "local",
        }
        client: AsyncMongoClient[Document] = AsyncMongoClient(endpoints.mongo_url, tz_aware=True)
        ids = new_ids(args.tickets)
        bench = Bench(
            args,
            endpoints,
            topics,
            env,
            client[f"{prefix}sla"]["tickets"],
            client[f"{prefix}sla"]["timers"],
            Templates(rules),
            ids[: args.due],
        )
        try:
            say("service on an empty database (memory baseline)")
            proc, _, _ = await bench.loaded_service(0)
            await asyncio.sleep(SETTLE_SECONDS)
            rss_empty = rss_mb(proc.pid)
            await proc.stop()

            say(f"seeding {args.tickets:,} armed tickets into MongoDB")
            seed_rate = await seed(
                bench.tickets, bench.timers, bench.templates, ids, args.partitions, say
            )

            say("restart: service loads every armed ticket")
            proc, reload_s, reload_assigned = await bench.loaded_service(args.tickets)
            await asyncio.sleep(SETTLE_SECONDS)
            rss_loaded = rss_mb(proc.pid)
            await proc.stop()
            say(f"loaded in {reload_s:.1f}s, RSS {rss_loaded:.0f} MB (empty {rss_empty:.0f} MB)")

            say(f"firing {args.due:,} deadlines over {args.window:.0f}s, contacts at {args.rate}/s")
            due = await bench.window(reload_s * 1.2 + args.lead)
            breaches = Breaches(endpoints.bootstrap_servers, topics.sla)
            breaches.wanted = set(due)
            await breaches.start()
            proc, _, _ = await bench.loaded_service(args.tickets)
            try:
                fired, sent, armed = await bench.measure_lateness(breaches, due, flow=True)
            finally:
                await proc.stop()
                await breaches.stop()
            # Counted again once the service has stopped: a late repeat counts as a duplicate.
            fired = lateness(breaches)
            say(f"{fired.received}/{args.due} breaches; {sent} contacts sent, {armed} armed")
            own = sorted(breaches.late_by)
            if own:
                say(
                    "late_by_seconds as the service saw it: "
                    f"p50 {own[len(own) // 2] * 1000:.1f} ms, "
                    f"p99 {own[int(len(own) * 0.99)] * 1000:.1f} ms, max {own[-1] * 1000:.1f} ms"
                )

            say("bare asyncio baseline: same tickets as call_at handles")
            due = await bench.window(reload_s * 1.2 + args.lead)
            base_topic = f"{topics.sla}.baseline"
            breaches = Breaches(endpoints.bootstrap_servers, base_topic)
            breaches.wanted = set(due)
            await create_topics(endpoints, TopicSettings(sla=base_topic), 1)
            await breaches.start()
            base = bench.keep(
                LoggedProcess(
                    "bench.sla_baseline",
                    {},
                    (endpoints.mongo_url, f"{prefix}sla", endpoints.bootstrap_servers, base_topic),
                    bench.log("baseline"),
                )
            )
            await base.start()
            try:
                done = await base.wait_for(
                    lambda: next((at for at, _ in base.events("baseline.loaded")), None),
                    args.timeout,
                )
                before = base.events("baseline.reading")[0][1]["rss_mb"]
                after = base.events("baseline.loaded")[0][1]["rss_mb"]
                base_fired, _, _ = await bench.measure_lateness(breaches, due, flow=False)
            finally:
                await base.stop()
                await breaches.stop()
            base_reload = done - base.started
            base_read = base.events("baseline.loaded")[0][1]["seconds"]
        finally:
            await bench.stop_all()
            await client.close()

    say(f"seeding rate (insert_many into SecantusDB, informative): {seed_rate:,.0f} docs/s")
    say(f"baseline received {base_fired.received}/{args.due}, duplicates {base_fired.duplicates}")
    memory = rss_loaded - rss_empty
    base_memory = after - before

    def row(name: str, svc: float, bas: float, fmt: str, goal: str, met: bool | None) -> tuple:
        verdict = "-" if met is None else ("yes" if met else "NO")
        return (name, format(svc, fmt), format(bas, fmt), f"{svc / bas:.2f}x", goal, verdict)

    return [
        row("memory above baseline (MB)", memory, base_memory, ".0f", "<= 300", memory <= 300),
        row("arming rate (tickets/s)", arm_service, arm_base, ",.0f", "-", None),
        row("firing lateness p50 (ms)", fired.p50_ms, base_fired.p50_ms, ".1f", "-", None),
        row(
            "firing lateness p99 (ms)",
            fired.p99_ms,
            base_fired.p99_ms,
            ".1f",
            "<= 100",
            fired.p99_ms <= 100,
        ),
        row("firing lateness max (ms)", fired.max_ms, base_fired.max_ms, ".1f", "-", None),
        row("reload, process start (s)", reload_s, base_reload, ".1f", "<= 30", reload_s <= 30),
        row(
            "reload, assigned/read (s)",
            reload_assigned,
            base_read,
            ".1f",
            "<= 30",
            reload_assigned <= 30,
        ),
        (
            "contacts armed by window end",
            f"{armed}/{sent}",
            "-",
            "-",
            "all sent",
            "yes" if sent and armed == sent else "NO",
        ),
        (
            "breaches received once",
            f"{fired.received}/{args.due} dup {fired.duplicates}",
            f"{base_fired.received}/{args.due} dup {base_fired.duplicates}",
            "-",
            f"all {args.due}, once",
            "yes" if fired.received == args.due and not fired.duplicates else "NO",
        ),
    ]


def print_table(rows: list[tuple[str, ...]]) -> None:
    header = ("metric", "service", "baseline", "ratio", "goal", "met?")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)), flush=True)


async def main_async(args: argparse.Namespace) -> None:
    config_dir = bench_config()
    try:
        print_table(await run(args, config_dir))
    finally:
        shutil.rmtree(config_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench-sla", description=__doc__)
    parser.add_argument("--tickets", type=int, default=1_000_000, help="armed tickets stored")
    parser.add_argument("--due", type=int, default=2_000, help="of which fall due in the window")
    parser.add_argument("--window", type=float, default=20.0, help="seconds the due ones span")
    parser.add_argument("--lead", type=float, default=15.0, help="seconds from ready to window")
    parser.add_argument("--rate", type=float, default=50.0, help="routed contacts per second")
    parser.add_argument("--arm", type=int, default=100_000, help="tickets for the arming rate")
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--mongo-cache", default="8G", help="SecantusDB cache (holds the data)")
    parser.add_argument("--log-dir", type=Path, default=None, help="keep each process's output")
    parser.add_argument("--timeout", type=float, default=900.0, help="longest load, seconds")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
