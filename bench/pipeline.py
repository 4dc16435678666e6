"""`make bench`: a burst of contacts through the five services, stage by stage, on an empty system
and with many tickets already open; latency at a fixed rate; and what each contact costs.

Beside it, in the same run and on the same broker, a raw aiokafka produce-and-consume baseline
(one hop, no processing), and the database's own bulk rate, which bounds what the services can
do: the benchmark prints the documents each contact costs and the rate that bound allows.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiosmtpd.controller import Controller

from bench.pipeline_probe import STAGES, Counters, DatabaseRate, StageWatcher, database_rate, scrape
from devstack.pipeline import CONTACT_PATH, ROOT, Pipeline, RunSecrets, run_topics, topic_env
from devstack.stack import LocalStack, StackEndpoints, free_port
from shared.events import ContactReceived
from shared.ids import ticket_id_for_contact
from shared.settings import TopicSettings


@dataclass
class Figures:
    throughput: float
    p50_ms: float
    p99_ms: float


@dataclass
class Burst:
    """A burst through the pipeline: each stage's rate, and what the contacts cost."""

    count: int
    rates: dict[str, float]
    last_at: dict[str, float]
    cost: dict[str, Counters]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def contact(i: int, run: str) -> ContactReceived:
    return ContactReceived(
        contact_id=f"bench-{run}-{uuid.uuid4().hex}",
        language="en",
        message={
            "channel": "email",
            "from_address": f"customer{i % 200}@example.com",
            "subject": "Wifi keeps disconnecting",
            "body": f"Router drops the network, case {i}.",
        },
    )


# -- the one-hop baseline ----------------------------------------------------------------------


async def baseline(endpoints: StackEndpoints, count: int, rate: float, steady: int) -> Figures:
    """Produce-and-consume on one topic: its burst rate, and its latency at `rate`."""
    topic = f"bench.baseline.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=endpoints.bootstrap_servers)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 3, 1)])
    await admin.close()
    payload = contact(0, "base").model_dump_json().encode()
    producer = AIOKafkaProducer(bootstrap_servers=endpoints.bootstrap_servers, linger_ms=2)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=endpoints.bootstrap_servers, group_id=None)
    arrived: dict[bytes, float] = {}

    async def pump() -> None:
        async for record in consumer:
            arrived.setdefault(record.key or b"", time.perf_counter())

    await producer.start()
    await consumer.start()
    await consumer.seek_to_end()
    task = asyncio.create_task(pump())
    try:
        keys = [f"b{i}".encode() for i in range(count)]
        start = time.perf_counter()
        await asyncio.gather(*[await producer.send(topic, payload, key=k) for k in keys])
        await _until(lambda: all(k in arrived for k in keys), 600)
        throughput = count / (max(arrived[k] for k in keys) - start)
        sent: dict[bytes, float] = {}
        start = time.perf_counter()
        for i in range(steady):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            key = f"s{i}".encode()
            sent[key] = time.perf_counter()
            await producer.send(topic, payload, key=key)
        await _until(lambda: all(k in arrived for k in sent), 600)
    finally:
        task.cancel()
        await consumer.stop()
        await producer.stop()
    latencies = [(arrived[k] - t) * 1000 for k, t in sent.items()]
    return Figures(throughput, percentile(latencies, 0.5), percentile(latencies, 0.99))


async def _until(done: Callable[[], bool], timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while not done():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"not done within {timeout:.0f}s")
        await asyncio.sleep(0.01)


# -- the pipeline ------------------------------------------------------------------------------


SEED_CHUNK = 5000


class Driver:
    """Publishes contacts to the running services and watches them through every stage."""

    def __init__(
        self, endpoints: StackEndpoints, topics: TopicSettings, urls: dict[str, str], token: str
    ) -> None:
        self.topics = topics
        self.urls = urls
        self.token = token
        self.producer = AIOKafkaProducer(bootstrap_servers=endpoints.bootstrap_servers, linger_ms=5)
        self.watcher = StageWatcher(endpoints.bootstrap_servers, topics.model_dump())
        self.run = uuid.uuid4().hex[:6]
        self.sent = 0

    async def __aenter__(self) -> Driver:
        await self.producer.start()
        await self.watcher.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.watcher.stop()
        await self.producer.stop()

    async def send(self, count: int) -> tuple[set[str], dict[str, float]]:
        """Publish `count` contacts at once; their tickets' ids and when each was sent."""
        tickets: set[str] = set()
        sent: dict[str, float] = {}
        futures = []
        for _ in range(count):
            c = contact(self.sent, self.run)
            self.sent += 1
            ticket_id = ticket_id_for_contact(c.contact_id)
            tickets.add(ticket_id)
            sent[ticket_id] = time.perf_counter()
            value = c.model_dump_json().encode()
            futures.append(await self.producer.send(self.topics.contacts, value, c.kafka_key()))
        await asyncio.gather(*futures)
        return tickets, sent

    async def settle(self, tickets: set[str], timeout: float) -> None:
        for stage in STAGES:
            await self.watcher.wait_for(stage, tickets, timeout)

    async def burst(self, count: int) -> Burst:
        before = await scrape(self.urls, self.token)
        start = time.perf_counter()
        tickets, _ = await self.send(count)
        await self.settle(tickets, timeout=max(600.0, count / 5))
        after = await scrape(self.urls, self.token)
        rates, last_at = {}, {}
        for stage in STAGES:
            last = max(self.watcher.arrived[stage][t] for t in tickets) - start
            rates[stage], last_at[stage] = count / last, last
        return Burst(count, rates, last_at, {n: after[n] - before[n] for n in self.urls})

    async def steady(self, count: int, rate: float) -> Figures:
        sent: dict[str, float] = {}
        start = time.perf_counter()
        for i in range(count):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            _, at = await self.send(1)
            sent.update(at)
        await self.watcher.wait_for("ticket.assigned", set(sent), timeout=600)
        arrived = self.watcher.arrived["ticket.assigned"]
        latencies = [(arrived[t] - at) * 1000 for t, at in sent.items()]
        return Figures(count / (time.perf_counter() - start), *_p50_p99(latencies))

    async def seed(self, count: int) -> float:
        """Open `count` tickets through the services (they stay open); seconds it took."""
        start = time.perf_counter()
        for first in range(0, count, SEED_CHUNK):
            chunk = time.perf_counter()
            size = min(SEED_CHUNK, count - first)
            tickets, _ = await self.send(size)
            await self.settle(tickets, timeout=max(900.0, size / 2))
            say(
                f"   seeded {first + size} of {count}: {size / (time.perf_counter() - chunk):.1f}"
                " contacts/s for this chunk"
            )
        return time.perf_counter() - start


def _p50_p99(latencies: list[float]) -> tuple[float, float]:
    return percentile(latencies, 0.5), percentile(latencies, 0.99)


class Sink:
    """Accepts every mail the notifier sends and keeps nothing."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


def bench_config() -> Path:
    """The shipped rules, with agents' capacity raised so every contact gets assigned, every
    agent on shift and reachable by email at any hour (each assignment's email goes out at once,
    so what the services do, and the figures, do not depend on the hour the benchmark runs),
    and assignments kept until the agent acts on them."""
    folder = Path(tempfile.mkdtemp(prefix="helpdesk-bench-"))
    shutil.copytree(ROOT / "config", folder, dirs_exist_ok=True)
    teams = yaml.safe_load((folder / "teams.yaml").read_text())
    for team in teams["teams"]:
        team.pop("shift_calendar", None)
        for agent in team["agents"]:
            agent["capacity"] = 1_000_000
            agent.pop("shift", None)
    (folder / "teams.yaml").write_text(yaml.safe_dump(teams, allow_unicode=True))
    notifier = yaml.safe_load((folder / "notifier.yaml").read_text())
    notifier["working_hours"] = {"default_calendar": None, "people": {}}
    (folder / "notifier.yaml").write_text(yaml.safe_dump(notifier, allow_unicode=True))
    # Nobody works the benchmark's tickets: without this, every assignment nobody acknowledged
    # within 10 minutes would pass to the next agent, and the open tickets would keep the
    # router (and the notifier's emails) busy while the second burst is measured.
    routing = yaml.safe_load((folder / "routing.yaml").read_text())
    routing["assignment"]["acknowledge_within_seconds"] = None
    (folder / "routing.yaml").write_text(yaml.safe_dump(routing, allow_unicode=True))
    return folder


# -- the report --------------------------------------------------------------------------------


def say(text: str = "") -> None:
    print(text, flush=True)


def report_burst(title: str, burst: Burst, hop: float, db: DatabaseRate) -> None:
    say(f"\n== {title}")
    say(f"{'stage':<18}{'contacts/s':>12}{'last at':>10}{'ratio to one hop':>19}")
    for stage, rate in burst.rates.items():
        say(f"{stage:<18}{rate:>12.1f}{burst.last_at[stage]:>9.1f}s{rate / hop:>18.3f}x")
    end = burst.rates["ticket.assigned"]
    say(f"{'end to end':<18}{end:>12.1f}{'':>10}{end / hop:>18.3f}x   (to ticket.assigned)")
    say(
        f"\nper contact       {'db commands':>12}{'inserted':>10}{'updated':>9}{'read':>8}"
        f"{'published':>11}"
    )
    total = Counters()
    for name, cost in burst.cost.items():
        total = total + cost
        _cost_line(name, cost.per(burst.count))
    per = total.per(burst.count)
    _cost_line("all services", per)
    say("database time per contact, the longest commands of each service:")
    for name, cost in burst.cost.items():
        slowest = ", ".join(
            f"{what} {seconds * 1000:.2f} ms" for what, seconds in cost.per(burst.count).slowest(3)
        )
        say(f"  {name:<16}{slowest}")
    seconds = db.seconds_per_contact(per)
    limit = 1 / seconds if seconds else float("inf")
    say(
        f"database bound: {seconds * 1000:.2f} ms of bulk work per contact at the rates measured"
        f" -> at most {limit:.0f} contacts/s; the burst reached {end / limit:.0%} of it"
    )


def _cost_line(name: str, c: Counters) -> None:
    say(
        f"{name:<18}{c.commands:>12.2f}{c.inserted:>10.2f}{c.updated:>9.2f}{c.read:>8.2f}"
        f"{c.published:>11.2f}"
    )


async def main_async(args: argparse.Namespace) -> None:
    suffix = uuid.uuid4().hex[:8]
    config_dir = bench_config()
    mail = Controller(Sink(), hostname="127.0.0.1", port=free_port())
    mail.start()
    try:
        # The local database's expiry sweep would stop it for seconds at a time, more as the
        # records of processed events grow (see `devstack.stack`): off, so the figures are the
        # services'.
        with LocalStack(expiry_sweep_seconds=0) as endpoints:
            await measure(args, suffix, config_dir, endpoints, mail.port)
    finally:
        mail.stop()
        shutil.rmtree(config_dir, ignore_errors=True)


async def measure(
    args: argparse.Namespace, suffix: str, config_dir: Path, endpoints: StackEndpoints, smtp: int
) -> None:
    say(
        f"burst of {args.count} contacts; {args.steady} at {args.rate:.0f}/s; "
        f"then {args.open} tickets opened and left open, and the burst again; "
        f"{args.partitions} partitions; one process per service; the local database's "
        "expiry sweep off"
    )
    hop = await baseline(endpoints, args.count, args.rate, args.steady)
    say(
        f"\n== raw aiokafka, one hop, same broker: {hop.throughput:.0f} msg/s in a burst of "
        f"{args.count}; at {args.rate:.0f}/s p50 {hop.p50_ms:.1f} ms, p99 {hop.p99_ms:.1f} ms"
    )
    db = await database_rate(endpoints.mongo_url)
    say(
        f"== database, same server: bulk insert {db.inserted_per_s:.0f} docs/s, bulk update "
        f"{db.updated_per_s:.0f} docs/s, read by id {db.read_per_s:.0f} docs/s (chunks of 100)"
    )
    keys = RunSecrets.generate(adapters=())
    env = {
        **topic_env(suffix),
        **keys.env(),
        "HELPDESK_MONGO__DATABASE_PREFIX": f"bench{suffix}_",
        "HELPDESK_LOGGING__LEVEL": "WARNING",
        "HELPDESK_SMTP_PORT": str(smtp),
        "HELPDESK_CONFIG_DIR": str(config_dir),
        "HELPDESK_KAFKA__PARTITIONS": str(args.partitions),
    }
    topics = run_topics(suffix)
    # The contact path only: what this measures ends at the agent's email and suggestions.
    with Pipeline(endpoints, env=env, log_dir=args.logs, services=CONTACT_PATH) as pipeline:
        urls = {name: svc.url for name, svc in pipeline.running.items()}
        operator = keys.agent_token("ops-rin", ttl=timedelta(hours=6))
        async with Driver(endpoints, topics, urls, operator) as driver:
            warm, _ = await driver.send(1)
            await driver.settle(warm, timeout=180)
            empty = await driver.burst(args.count)
            report_burst(f"burst of {args.count}, empty system", empty, hop.throughput, db)
            steady = await driver.steady(args.steady, args.rate)
            say(
                f"\n== latency at {args.rate:.0f}/s ({args.steady} contacts), publish to "
                f"ticket.assigned: p50 {steady.p50_ms:.0f} ms, p99 {steady.p99_ms:.0f} ms; "
                f"one hop p50 {hop.p50_ms:.0f} ms, p99 {hop.p99_ms:.0f} ms; "
                f"ratio p99 {steady.p99_ms / hop.p99_ms:.1f}x"
            )
            if args.open:
                took = await driver.seed(args.open)
                say(
                    f"\n== {args.open} tickets opened and left open in {took:.0f} s "
                    f"({args.open / took:.0f} contacts/s)"
                )
                full = await driver.burst(args.count)
                report_burst(
                    f"burst of {args.count} with {args.open + args.count + args.steady + 1} "
                    "tickets open",
                    full,
                    hop.throughput,
                    db,
                )
                ratio = full.rates["ticket.assigned"] / empty.rates["ticket.assigned"]
                say(f"end to end with open tickets / empty system: {ratio:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--count", type=int, default=5000, help="contacts in the burst")
    parser.add_argument("--rate", type=float, default=50.0, help="contacts per second for latency")
    parser.add_argument("--steady", type=int, default=1000, help="contacts sent at that rate")
    parser.add_argument("--open", type=int, default=50_000, help="tickets open for the 2nd burst")
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument(
        "--logs", type=Path, default=None, help="keep each service's log in this folder"
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
