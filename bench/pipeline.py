"""`make bench`: contacts per second from publish to `ticket.assigned`, and latency at a fixed rate.

Beside it, in the same run and on the same broker, a raw aiokafka produce-and-consume baseline
(one hop, no processing): the ratio says what the five services cost over the bare broker.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from devstack.pipeline import ROOT, Pipeline, topic_env
from devstack.stack import LocalStack, StackEndpoints
from shared.events import ContactReceived
from shared.ids import ticket_id_for_contact
from shared.settings import TopicSettings


@dataclass
class Figures:
    throughput: float
    p50_ms: float
    p99_ms: float


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def contact(i: int) -> ContactReceived:
    return ContactReceived(
        contact_id=f"bench-{uuid.uuid4().hex}",
        language="en",
        message={
            "channel": "email",
            "from_address": f"customer{i % 200}@example.com",
            "subject": "Wifi keeps disconnecting",
            "body": f"Router drops the network, case {i}.",
        },
    )


class Watcher:
    """Collects the arrival time of each awaited key on one topic."""

    def __init__(self, bootstrap: str, topic: str, key_of: Callable[[bytes], str | None]) -> None:
        self.arrived: dict[str, float] = {}
        self._consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="latest"
        )
        self._key_of = key_of
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        await self._consumer.seek_to_end()
        self._task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        async for record in self._consumer:
            key = self._key_of(record.value)
            if key is not None:
                self.arrived.setdefault(key, time.perf_counter())

    async def wait_for(self, keys: set[str], timeout: float) -> None:
        deadline = time.perf_counter() + timeout
        while not keys <= self.arrived.keys():
            if time.perf_counter() > deadline:
                missing = len(keys - self.arrived.keys())
                raise TimeoutError(f"{missing} of {len(keys)} did not arrive within {timeout:.0f}s")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        await self._consumer.stop()


async def measure(
    producer: AIOKafkaProducer,
    topic: str,
    watcher: Watcher,
    make: Callable[[int], tuple[str, bytes, bytes]],
    count: int,
    rate: float | None,
    timeout: float,
) -> Figures:
    """Send `count` messages (at once, or `rate` per second) and time their effects."""
    sent: dict[str, float] = {}
    start = time.perf_counter()
    for i in range(count):
        if rate:
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        key, msg_key, value = make(i)
        sent[key] = time.perf_counter()
        await producer.send(topic, value, key=msg_key)
    await producer.flush()
    await watcher.wait_for(set(sent), timeout)
    elapsed = max(watcher.arrived[k] for k in sent) - start
    latencies = [(watcher.arrived[k] - sent[k]) * 1000 for k in sent]
    return Figures(count / elapsed, percentile(latencies, 0.5), percentile(latencies, 0.99))


async def baseline(
    endpoints: StackEndpoints, count: int, rate: float, partitions: int
) -> tuple[Figures, Figures]:
    topic = f"bench.baseline.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=endpoints.bootstrap_servers)
    await admin.start()
    await admin.create_topics([NewTopic(topic, partitions, 1)])
    await admin.close()
    payload = contact(0).model_dump_json().encode()

    def make(i: int) -> tuple[str, bytes, bytes]:
        key = f"m{i}-{uuid.uuid4().hex[:6]}"
        return key, key.encode(), json.dumps({"k": key}).encode() + payload

    def key_of(value: bytes) -> str | None:
        return str(json.loads(value[: value.index(b"}") + 1])["k"])

    return await run_both(endpoints, topic, topic, make, key_of, count, rate)


async def run_both(
    endpoints: StackEndpoints,
    in_topic: str,
    out_topic: str,
    make: Callable[[int], tuple[str, bytes, bytes]],
    key_of: Callable[[bytes], str | None],
    count: int,
    rate: float,
) -> tuple[Figures, Figures]:
    producer = AIOKafkaProducer(bootstrap_servers=endpoints.bootstrap_servers, linger_ms=2)
    watcher = Watcher(endpoints.bootstrap_servers, out_topic, key_of)
    await producer.start()
    await watcher.start()
    try:
        burst = await measure(producer, in_topic, watcher, make, count, None, timeout=600)
        steady = await measure(
            producer, in_topic, watcher, make, max(50, count // 2), rate, timeout=600
        )
    finally:
        await watcher.stop()
        await producer.stop()
    return burst, steady


async def pipeline_figures(
    endpoints: StackEndpoints, topics: TopicSettings, count: int, rate: float
) -> tuple[Figures, Figures]:
    contacts: dict[str, str] = {}

    def make(i: int) -> tuple[str, bytes, bytes]:
        c = contact(i)
        ticket_id = ticket_id_for_contact(c.contact_id)
        contacts[ticket_id] = c.contact_id
        return ticket_id, c.kafka_key() or b"", c.model_dump_json().encode()

    def key_of(value: bytes) -> str | None:
        event = json.loads(value)
        return event["ticket_id"] if event.get("event_type") == "ticket.assigned" else None

    warm = contact(-1)
    producer = AIOKafkaProducer(bootstrap_servers=endpoints.bootstrap_servers)
    await producer.start()
    watcher = Watcher(endpoints.bootstrap_servers, topics.routing, key_of)
    await watcher.start()
    await producer.send_and_wait(
        topics.contacts, warm.model_dump_json().encode(), key=warm.kafka_key()
    )
    await watcher.wait_for({ticket_id_for_contact(warm.contact_id)}, timeout=120)
    await watcher.stop()
    await producer.stop()
    return await run_both(endpoints, topics.contacts, topics.routing, make, key_of, count, rate)


def report(name: str, burst: Figures, steady: Figures, rate: float) -> None:
    print(
        f"{name:<28} {burst.throughput:>10.1f} msg/s   at {rate:.0f}/s: "
        f"p50 {steady.p50_ms:>8.1f} ms   p99 {steady.p99_ms:>8.1f} ms",
        flush=True,
    )


def bench_config() -> Path:
    """The shipped rules, with agents' capacity raised so every contact gets assigned."""
    folder = Path(tempfile.mkdtemp(prefix="helpdesk-bench-"))
    shutil.copytree(ROOT / "config", folder, dirs_exist_ok=True)
    teams = yaml.safe_load((folder / "teams.yaml").read_text())
    for team in teams["teams"]:
        for agent in team["agents"]:
            agent["capacity"] = 1_000_000
    (folder / "teams.yaml").write_text(yaml.safe_dump(teams, allow_unicode=True))
    return folder


async def main_async(args: argparse.Namespace) -> None:
    suffix = uuid.uuid4().hex[:8]
    config_dir = bench_config()
    try:
        await measure_all(args, suffix, config_dir)
    finally:
        shutil.rmtree(config_dir, ignore_errors=True)


async def measure_all(args: argparse.Namespace, suffix: str, config_dir: Path) -> None:
    with LocalStack() as endpoints:
        env = {
            **topic_env(suffix),
            "HELPDESK_MONGO__DATABASE_PREFIX": f"bench{suffix}_",
            "HELPDESK_LOGGING__LEVEL": "WARNING",
            "HELPDESK_SMTP_PORT": "1",
            "HELPDESK_CONFIG_DIR": str(config_dir),
        }
        topics = TopicSettings(
            **{k.split("__")[1].lower(): v for k, v in topic_env(suffix).items()}
        )
        print(
            f"{args.count} contacts in a burst, "
            f"then {max(50, args.count // 2)} at {args.rate:.0f}/s; "
            f"{args.partitions} partitions; one process per service",
            flush=True,
        )
        base_burst, base_steady = await baseline(endpoints, args.count, args.rate, args.partitions)
        with Pipeline(endpoints, env={**env, "HELPDESK_KAFKA__PARTITIONS": str(args.partitions)}):
            pipe_burst, pipe_steady = await pipeline_figures(
                endpoints, topics, args.count, args.rate
            )
    report("raw aiokafka (1 hop)", base_burst, base_steady, args.rate)
    report("pipeline to ticket.assigned", pipe_burst, pipe_steady, args.rate)
    print(
        "ratio pipeline/baseline: "
        f"throughput {pipe_burst.throughput / base_burst.throughput:.3f}x, "
        f"p50 latency {pipe_steady.p50_ms / base_steady.p50_ms:.1f}x, "
        f"p99 latency {pipe_steady.p99_ms / base_steady.p99_ms:.1f}x",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--count", type=int, default=500, help="contacts in the burst")
    parser.add_argument("--rate", type=float, default=20.0, help="contacts per second for latency")
    parser.add_argument("--partitions", type=int, default=3)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
