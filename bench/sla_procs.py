"""Processes and Kafka ends of `make bench-sla`: logged child processes, breaches, contacts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.sla_data import routed_event
from devstack.pipeline import ROOT

Line = dict[str, Any]


class LoggedProcess:
    """`python -m <module>` whose JSON log lines (stdout and stderr) are kept with arrival times."""

    def __init__(
        self,
        module: str,
        env: dict[str, str],
        args: tuple[str, ...] = (),
        log_path: Path | None = None,
    ) -> None:
        self.module, self.env, self.args, self.log_path = module, env, args, log_path
        self.lines: list[tuple[float, Line]] = []
        self.tail: deque[str] = deque(maxlen=40)
        self.started = 0.0
        self.assigned_at: float | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    async def start(self) -> LoggedProcess:
        self.started = time.perf_counter()
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            self.module,
            *self.args,
            cwd=ROOT,
            env={**os.environ, **self.env, "PYTHONUNBUFFERED": "1"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            limit=1 << 20,
        )
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        log = self.log_path.open("a", encoding="utf-8", buffering=1) if self.log_path else None
        try:
            async for raw in self._proc.stdout:
                self._keep(raw.decode(errors="replace").strip(), log)
        finally:
            if log is not None:
                log.close()

    def _keep(self, text: str, log: IO[str] | None) -> None:
        if log is not None:
            log.write(f"{time.perf_counter() - self.started:9.3f} {text}\n")
        self.tail.append(text)
        if self.assigned_at is None and "assigned to partitions" in text:
            self.assigned_at = time.perf_counter()  # FastStream's line, not JSON
        with contextlib.suppress(ValueError):
            line = json.loads(text)
            if isinstance(line, dict):
                self.lines.append((time.perf_counter(), line))

    def events(self, name: str) -> list[tuple[float, Line]]:
        return [(at, line) for at, line in self.lines if line.get("event") == name]

    async def wait_for(self, probe: Callable[[], float | None], timeout: float) -> float:
        """Wait until `probe` returns an instant (perf_counter), which is returned."""
        deadline = time.perf_counter() + timeout
        while (found := probe()) is None:
            if self._proc is not None and self._proc.returncode is not None:
                raise RuntimeError(f"{self.module} exited; last lines:\n" + "\n".join(self.tail))
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{self.module}: not there after {timeout:.0f}s")
            await asyncio.sleep(0.05)
        return found

    async def stop(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.terminate()
            try:
                await asyncio.wait_for(self._proc.wait(), 20)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


def loaded_at(proc: LoggedProcess, expected: int) -> float | None:
    """When the service's `sla.partitions_loaded` lines first add up to `expected` tickets."""
    total = 0
    for at, line in proc.events("sla.partitions_loaded"):
        total += int(line.get("loaded", 0))
        if total >= expected:
            return at
    return None


class Breaches:
    """Arrival lateness (receive time minus `due_at`) of each awaited ticket's `sla.breached`."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.wanted: set[str] = set()
        self.late: dict[str, list[float]] = {}
        #: The emitter's own account of its lateness (`late_by_seconds`), where it gives one.
        self.late_by: list[float] = []
        self._all = asyncio.Event()
        self._consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=None,
            auto_offset_reset="latest",
            # The default 500 ms long poll would be most of what is measured.
            fetch_max_wait_ms=5,
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        await self._consumer.seek_to_end()
        self._task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        async for record in self._consumer:
            received = time.time()
            event = json.loads(record.value)
            if event.get("event_type") == "sla.breached" and event["ticket_id"] in self.wanted:
                due = datetime.fromisoformat(event["due_at"]).timestamp()
                self.late.setdefault(event["ticket_id"], []).append(received - due)
                if "late_by_seconds" in event:
                    self.late_by.append(event["late_by_seconds"])
                if len(self.late) >= len(self.wanted):
                    self._all.set()

    async def wait_all(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._all.wait(), timeout)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()


async def contacts_flow(bootstrap: str, topic: str, rate: float, until: float) -> list[str]:
    """Publish `ticket.routed` for fresh tickets at `rate` per second until wall time `until`."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=1)
    await producer.start()
    sent: list[str] = []
    start = time.time()
    try:
        while time.time() < until:
            ticket_id = f"flow-{len(sent)}-{start:.0f}"
            event = routed_event(ticket_id, datetime.now(UTC))
            await producer.send(topic, event.model_dump_json().encode(), key=ticket_id.encode())
            sent.append(ticket_id)
            await asyncio.sleep(max(0.0, start + len(sent) / rate - time.time()))
        await producer.flush()
    finally:
        await producer.stop()
    return sent
