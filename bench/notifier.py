"""`make bench-notifier`: live-push latency from `sla.breached` on Kafka to 1,000 consoles.

The notifier runs in its own process (`bench.notifier_server`) on the local Tansu broker and
SecantusDB, with a synthetic team of 1,000 agents and a manager, every one of them connected
over `/ws`. Each round queues a ticket in that team (`ticket.queued`, so its board row goes to
the whole team), waits until every console shows it, then publishes its resolution breach and
times, per console, from just before the publish to the arrival of the red row. Cases:
(a) breaches with no webhook; (b) the same with a chat webhook whose endpoint answers after
2 s, on the breach's first rung beside email and push; (c) the baseline, in the same run on
the same server and connections: a bench-only route that calls `PushHub.broadcast` with a row
of the same size to the same people, timed from the HTTP call the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import shutil
import subprocess
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from aiosmtpd.controller import Controller
from websockets.asyncio.client import ClientConnection, connect

from bench.notifier_server import (
    MANAGER,
    SECRET,
    TEAM,
    agent_id,
    bench_config,
    server_env,
    spawn,
    wait_ready,
)
from devstack.pipeline import run_topics
from devstack.stack import LocalStack, StackEndpoints, free_port
from services.notifier.settings import NotifierSettings
from shared.agent_tokens import AgentTokens
from shared.broker import make_broker, publish_event
from shared.events import SlaBreached, TicketQueued
from shared.settings import KafkaSettings

#: How long the chat tool's endpoint takes to answer in case (b).
WEBHOOK_DELAY = 2.0
#: aiokafka's default `fetch_max_wait_ms`, in seconds: the notifier's consumers use it.
FETCH_WAIT = 0.5
Key = tuple[str, bool]  # ticket id, whether the row shows the breach


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Mailbox:
    """An SMTP server's handler (on the server's own thread): keeps each Message-ID."""

    def __init__(self) -> None:
        self.received: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(str(message_from_bytes(envelope.content)["Message-ID"]))
        return "250 OK"

    async def wait_for(self, count: int, timeout: float = 60.0) -> None:
        for _ in range(int(timeout / 0.05)):
            if len(self.received) >= count:
                return
            await asyncio.sleep(0.05)
        raise TimeoutError(f"{len(self.received)} of {count} emails within {timeout:g} s")


@dataclass(frozen=True)
class WebhookCall:
    at: float  # time.perf_counter() when the whole request was in
    headers: dict[str, str]
    body: bytes


class ChatEndpoint:
    """A chat tool's webhook endpoint on a loopback port: records each request as it arrives
    and answers 200 after `delay` seconds, or never (holding the connection) when None."""

    def __init__(self, delay: float | None) -> None:
        self.delay = delay
        self.calls: list[WebhookCall] = []
        self.answered = 0
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self._answer = asyncio.Event()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")[1:]
                headers = {
                    name.strip().lower(): value.strip()
                    for name, _, value in (line.partition(":") for line in lines if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.calls.append(WebhookCall(time.perf_counter(), headers, body))
                if self.delay is None:
                    await asyncio.Event().wait()
                await asyncio.sleep(self.delay or 0)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
                self.answered += 1
                self._answer.set()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            # A closed connection, or the endpoint stopping: end quietly (Python 3.11 reports
            # a connection handler that ends cancelled as an unhandled error).
            pass
        finally:
            writer.close()

    async def wait_answered(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.answered < count and time.monotonic() < deadline:
            self._answer.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._answer.wait(), deadline - time.monotonic())

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        self._handlers.clear()


class Consoles:
    """The connected consoles: the first arrival of each (ticket, breached) row per person."""

    def __init__(self, url: str, people: list[str]) -> None:
        self.url = url
        self.people = people
        self.arrived: defaultdict[Key, dict[str, float]] = defaultdict(dict)
        self.sample: dict[str, Any] | None = None
        self._done: dict[Key, asyncio.Event] = {}
        self._sockets: list[ClientConnection] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def connect_all(self, batch: int = 100) -> None:
        tokens = AgentTokens(SECRET)
        now = datetime.now(UTC)
        for start in range(0, len(self.people), batch):
            chunk = self.people[start : start + batch]
            sockets = await asyncio.gather(
                *(
                    connect(
                        f"{self.url}/ws?token={tokens.issue(p, ttl=timedelta(hours=1), now=now)}",
                        ping_interval=None,
                        max_queue=None,
                    )
                    for p in chunk
                )
            )
            for person, socket in zip(chunk, sockets, strict=True):
                self._sockets.append(socket)
                self._tasks.append(asyncio.create_task(self._read(person, socket)))

    async def _read(self, person: str, socket: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            async for raw in socket:
                now = time.perf_counter()
                message = json.loads(raw)
                if message.get("type") != "ticket":
                    continue
                row = message["data"]
                key = (row["ticket_id"], bool(row["sla"] and row["sla"]["breached"]))
                seen = self.arrived[key]
                if person in seen:
                    continue
                seen[person] = now
                if key[1]:
                    self.sample = row
                if len(seen) == len(self.people) and key in self._done:
                    self._done[key].set()

    async def wait_all(self, key: Key, timeout: float = 60.0) -> dict[str, float]:
        done = self._done.setdefault(key, asyncio.Event())
        if len(self.arrived[key]) < len(self.people):
            try:
                await asyncio.wait_for(done.wait(), timeout)
            except TimeoutError:
                got = len(self.arrived[key])
                raise TimeoutError(f"{key}: {got} of {len(self.people)} consoles") from None
        return self.arrived[key]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(
            *(asyncio.wait_for(s.close(), 5) for s in self._sockets), return_exceptions=True
        )
        await asyncio.gather(*self._tasks, return_exceptions=True)


def queued(ticket_id: str) -> TicketQueued:
    return TicketQueued(
        ticket_id=ticket_id,
        team=TEAM,
        tier="L1",
        priority="P2",
        order="fifo",
        reason="everyone is busy",
    )


def breached(ticket_id: str) -> SlaBreached:
    now = datetime.now(UTC)
    return SlaBreached(
        ticket_id=ticket_id,
        metric="resolution",
        team=TEAM,
        priority="P2",
        colour="red",
        due_at=now - timedelta(seconds=1),
        late_by_seconds=0.01,
    )


class KafkaHop:
    """A bare aiokafka consumer (default fetch settings, as the notifier's) on the SLA topic:
    when each breach could first be read, to set the Kafka hop apart from the rest."""

    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        self.arrived: dict[str, float] = {}
        self._consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap_servers, group_id=None, auto_offset_reset="latest"
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        await self._consumer.seek_to_end()
        self._task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        async for record in self._consumer:
            if record.value and b'"sla.breached"' in record.value:
                now = time.perf_counter()
                self.arrived.setdefault(json.loads(record.value)["ticket_id"], now)

    async def wait_for(self, ticket_id: str, timeout: float = 5.0) -> float | None:
        """When the breach of the ticket was read, or None if not within `timeout`."""
        for _ in range(int(timeout / 0.01)):
            if ticket_id in self.arrived:
                return self.arrived[ticket_id]
            await asyncio.sleep(0.01)
        return None

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._consumer.stop()


class Bench:
    def __init__(
        self,
        settings: NotifierSettings,
        consoles: Consoles,
        http: httpx.AsyncClient,
        mailbox: Mailbox,
        seed: int,
    ) -> None:
        self.settings = settings
        self.consoles = consoles
        self.http = http
        self.mailbox = mailbox
        self.hop = KafkaHop(settings.kafka.bootstrap_servers, settings.topics.sla)
        #: Milliseconds from publishing each breach to the bare consumer reading it.
        self.hops: list[float] = []
        self.broker = make_broker(settings)
        self.rng = random.Random(seed)

    async def breach_round(self, name: str) -> list[float]:
        ticket_id = f"bench-{name}-{uuid.uuid4().hex[:10]}"
        topics = self.settings.topics
        await publish_event(self.broker, topics.routing, queued(ticket_id))
        await self.consoles.wait_all((ticket_id, False))
        # A consumer asks the broker for more right after it read the queued row, and this
        # broker holds the fetch until data comes or its wait (500 ms) ends: a random pause
        # keeps every breach from landing at the same point of that wait.
        await asyncio.sleep(self.rng.uniform(0, FETCH_WAIT))
        start = time.perf_counter()
        await publish_event(self.broker, topics.sla, breached(ticket_id))
        arrived = await self.consoles.wait_all((ticket_id, True))
        read = await self.hop.wait_for(ticket_id)
        if read is not None:
            self.hops.append((read - start) * 1000)
        return [(t - start) * 1000 for t in arrived.values()]

    async def baseline_round(self) -> list[float]:
        assert self.consoles.sample is not None
        ticket_id = f"bench-base-{uuid.uuid4().hex[:10]}"
        row = {**self.consoles.sample, "ticket_id": ticket_id}
        start = time.perf_counter()
        answer = await self.http.post("/bench/broadcast", json=row)
        answer.raise_for_status()
        arrived = await self.consoles.wait_all((ticket_id, True))
        return [(t - start) * 1000 for t in arrived.values()]

    async def warm_up(self) -> None:
        """Until the replica's own push consumer has joined, its events are not read (it
        starts at the latest offset): queue tickets until one reaches every console. Then a
        breach, until its email shows the shared consumer group at work too."""
        deadline = time.monotonic() + 90
        while True:
            ticket_id = f"bench-warm-{uuid.uuid4().hex[:10]}"
            await publish_event(self.broker, self.settings.topics.routing, queued(ticket_id))
            try:
                await self.consoles.wait_all((ticket_id, False), timeout=3)
                break
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise
        await self.breach_round("warm")
        await self.mailbox.wait_for(1)


def print_table(rows: list[tuple[str, list[float]]], base: list[float]) -> None:
    header = ("case", "receipts", "p50 ms", "p99 ms", "p50 / baseline", "p99 / baseline")
    b50, b99 = percentile(base, 0.5), percentile(base, 0.99)
    lines = [header]
    for name, values in rows:
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        lines.append(
            (
                name,
                f"{len(values):,}",
                f"{p50:.1f}",
                f"{p99:.1f}",
                f"{p50 / b50:.2f}x",
                f"{p99 / b99:.2f}x",
            )
        )
    widths = [max(len(r[i]) for r in lines) for i in range(len(header))]
    for r in lines:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)), flush=True)


async def run_cases(bench: Bench, chat: ChatEndpoint, rounds: int) -> list[tuple[str, list[float]]]:
    """(a), then the baseline (c), then (b) once the webhook is registered; the table's rows."""
    bench.hops.clear()
    no_webhook = [x for _ in range(rounds) for x in await bench.breach_round("a")]
    hops_a = len(bench.hops)
    say(f"(a) {rounds} breaches done")
    base = [x for _ in range(rounds) for x in await bench.baseline_round()]
    say(f"(c) {rounds} bare broadcasts done")
    # Every breach of (a) decided (its email sent) before the webhook exists.
    await bench.mailbox.wait_for(1 + rounds)
    manager = AgentTokens(SECRET).issue(MANAGER, ttl=timedelta(hours=1), now=datetime.now(UTC))
    created = await bench.http.post(
        "/webhooks",
        headers={"Authorization": f"Bearer {manager}"},
        json={"name": "bench-chat", "url": chat.url, "teams": [TEAM]},
    )
    created.raise_for_status()
    slow = [x for _ in range(rounds) for x in await bench.breach_round("b")]
    say(
        f"(b) {rounds} breaches done, with {len(chat.calls)} webhook calls received and "
        f"{chat.answered} answered by then; waiting for the rest to be answered"
    )
    await chat.wait_answered(rounds, timeout=WEBHOOK_DELAY * rounds + 15)
    return [
        ("(a) sla.breached, no webhook", no_webhook),
        (f"(b) sla.breached + webhook answering in {WEBHOOK_DELAY:g} s", slow),
        ("(c) baseline: bare hub.broadcast", base),
        ("Kafka hop alone, during (a)", bench.hops[:hops_a]),
    ]


async def measure(args: argparse.Namespace, endpoints: StackEndpoints, workdir: Path) -> None:
    suffix = uuid.uuid4().hex[:8]
    mailbox = Mailbox()
    smtp_port = free_port()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    chat = ChatEndpoint(WEBHOOK_DELAY)
    env = server_env(suffix, bench_config(workdir / "config"), smtp_port)
    settings = NotifierSettings(
        kafka=KafkaSettings(bootstrap_servers=endpoints.bootstrap_servers),
        topics=run_topics(suffix),
    )
    port = free_port()
    log = workdir / "notifier.log"
    people = [MANAGER, *(agent_id(n) for n in range(args.agents))]
    smtp.start()
    await chat.start()
    server = spawn(endpoints, env, port, args.agents, log)
    http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30)
    consoles = Consoles(f"ws://127.0.0.1:{port}", people)
    bench = Bench(settings, consoles, http, mailbox, args.seed)
    try:
        await wait_ready(http, server, log)
        say(f"notifier up (pid {server.pid}); connecting {len(people):,} consoles")
        await consoles.connect_all()
        await bench.broker.start()
        await bench.hop.start()
        say("consoles connected; warming up until the push consumer reads")
        await bench.warm_up()
        rows = await run_cases(bench, chat, args.rounds)
    finally:
        await consoles.close()
        await bench.broker.stop()
        await bench.hop.stop()
        await http.aclose()
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        await chat.stop()
        smtp.stop()
    print(flush=True)
    say(
        f"Push latency to {len(people):,} WebSocket consoles (1 manager + {args.agents:,} "
        "agents of one team, in this process; the notifier in its own) per breach: from just "
        "before publishing sla.breached on Kafka to each console's receipt of the ticket's red "
        f"board row; {args.rounds} breaches per case. Baseline: POST /bench/broadcast "
        "(PushHub.broadcast of a row of the same size to the same people) on the same server "
        "and connections, timed from the HTTP call. The Kafka hop: publish to a bare aiokafka "
        "consumer's read, with aiokafka's default fetch settings (the notifier's push "
        "consumer waits at most 50 ms per fetch)."
    )
    print_table(rows, rows[2][1])
    say(
        f"webhook calls received {len(chat.calls)}, answered {chat.answered} "
        f"(each after {WEBHOOK_DELAY:g} s); emails received {len(mailbox.received)} "
        f"(1 warm-up + {args.rounds} (a) + {args.rounds} (b) expected)"
    )


async def main_async(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="helpdesk-bench-notifier-"))
    try:
        with LocalStack(log_dir=workdir / "stack") as endpoints:
            say(f"local stack up: Kafka {endpoints.bootstrap_servers}; work folder {workdir}")
            await measure(args, endpoints, workdir)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench-notifier", description=__doc__)
    parser.add_argument("--agents", type=int, default=1_000, help="agents in the one team")
    parser.add_argument("--rounds", type=int, default=20, help="breaches (and broadcasts) per case")
    parser.add_argument("--seed", type=int, default=7, help="seeds the pauses before breaches")
    parser.add_argument("--keep", action="store_true", help="keep the work folder and its logs")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
