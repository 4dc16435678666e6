"""The `Timer` port: deadlines held in memory and fired at their exact time.

How it works
------------
Every running SLA clock is stored in MongoDB; the clocks of the partitions this replica owns
are also held here, in a min-heap ordered by deadline (`DeadlineHeap`). A single task
(`TimerRunner`) sleeps until the earliest deadline, wakes, pops every key whose deadline has
passed and hands each to a callback, in a task of its own, which re-reads the clock and emits
the breach. A breach whose publishing hangs therefore never holds up the other deadlines; it
is cut off after a timeout and tried again later.

The products this replaces sweep a table every few minutes, so a breach is reported up to a
sweep interval late. Sleeping until the next deadline instead makes the lateness the event
loop's own jitter: a few milliseconds.

The sleep must end early when a deadline earlier than the one it sleeps towards is scheduled.
`schedule()` therefore sets an `asyncio.Event`; the runner waits on that event with the time
left as its timeout, so it wakes either at the deadline (timeout) or at the new schedule
(event), and then recomputes what to wait for.

Worked example, at 09:00:00 with deadlines A at 09:30 and B at 12:00 in the heap:

    runner:   next is A, waits on the wake event for up to 1800 s
    09:05     a P1 ticket is routed: C scheduled for 09:35; wake is set
    runner:   wakes at 09:05, nothing due yet, next is still A: waits 1500 s
    09:10     A is cancelled (the agent replied): the entry stays in the heap but is stale
    runner:   still waiting towards 09:30; wakes, pops A, sees it is stale and drops it,
              next is C: waits 300 s
    09:35     pops C, due: the callback emits its breach at 09:35

Cancelling is lazy: `cancel()` forgets the key's live deadline, and a heap entry that no longer
matches it is skipped when it reaches the top. Re-scheduling a key replaces its deadline the
same way. Both keep every operation O(log n) without searching the heap.

The heap is pure and driven by explicit instants, so its tests use a fake clock; the runner
reads the injected clock and converts the gap into a real wait.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from shared.clock import Clock
from shared.logging import get_logger

log = get_logger(__name__)

OnDue = Callable[[str], Awaitable[None]]


class Timer(Protocol):
    """Deadlines by key; the holder is told when one falls due."""

    def schedule(self, key: str, due_at: datetime) -> None: ...
    def cancel(self, key: str) -> None: ...
    def due(self, key: str) -> datetime | None: ...
    def keys(self) -> Iterable[str]: ...


class DeadlineHeap:
    """A min-heap of (deadline, key) with lazy cancellation; knows nothing of real time.

    Deadlines are kept as POSIX timestamps (floats) rather than datetimes: a replica may hold
    a million of them, and a float is half the size of a datetime. Keys due at the same
    instant pop in key order.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []
        self._live: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, key: object) -> bool:
        return key in self._live

    def keys(self) -> list[str]:
        return list(self._live)

    def schedule(self, key: str, due_at: datetime) -> None:
        """Set (or move) the key's deadline."""
        due = due_at.timestamp()
        if self._live.get(key) == due:
            return
        self._live[key] = due
        heapq.heappush(self._heap, (due, key))
        if len(self._heap) > 2 * len(self._live) + 1024:
            self._compact()

    def cancel(self, key: str) -> None:
        self._live.pop(key, None)

    def due(self, key: str) -> datetime | None:
        """The key's deadline, if it has one."""
        due = self._live.get(key)
        return None if due is None else datetime.fromtimestamp(due, UTC)

    def next_due(self) -> datetime | None:
        """The earliest live deadline, or None when nothing is scheduled."""
        self._drop_stale()
        return datetime.fromtimestamp(self._heap[0][0], UTC) if self._heap else None

    def pop_due(self, now: datetime) -> list[str]:
        """Remove and return every key due at `now` or before, earliest first."""
        limit = now.timestamp()
        due: list[str] = []
        while True:
            self._drop_stale()
            if not self._heap or self._heap[0][0] > limit:
                return due
            _, key = heapq.heappop(self._heap)
            del self._live[key]
            due.append(key)

    def _drop_stale(self) -> None:
        while self._heap:
            due, key = self._heap[0]
            if self._live.get(key) == due:
                return
            heapq.heappop(self._heap)

    def _compact(self) -> None:
        """Rebuild without stale entries, so moved deadlines cannot grow the heap unbounded."""
        self._heap = [(due, key) for key, due in self._live.items()]
        heapq.heapify(self._heap)


class TimerRunner:
    """Fires each key of a `DeadlineHeap` at its deadline by calling `on_due(key)`.

    Each call runs in its own task and gets `fire_timeout` to finish. A callback that raises
    or times out is logged and its key scheduled again after `retry_delay`, so a deadline is
    never dropped because Kafka or MongoDB was briefly away.
    """

    def __init__(
        self,
        clock: Clock,
        heap: DeadlineHeap,
        on_due: OnDue,
        *,
        retry_delay: timedelta = timedelta(seconds=1),
        fire_timeout: timedelta = timedelta(seconds=10),
    ) -> None:
        self._clock = clock
        self._heap = heap
        self._on_due = on_due
        self._retry_delay = retry_delay
        self._fire_timeout = fire_timeout.total_seconds()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._firing: set[asyncio.Task[None]] = set()

    def schedule(self, key: str, due_at: datetime) -> None:
        earliest = self._heap.next_due()
        self._heap.schedule(key, due_at)
        if earliest is None or due_at < earliest:
            self._wake.set()

    def cancel(self, key: str) -> None:
        # The runner may wake for the cancelled deadline and find nothing: harmless.
        self._heap.cancel(key)

    def due(self, key: str) -> datetime | None:
        return self._heap.due(key)

    def keys(self) -> list[str]:
        return self._heap.keys()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="sla-timer")

    async def stop(self) -> None:
        task, self._task = self._task, None
        tasks = [t for t in (task, *self._firing) if t is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._firing.clear()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            for key in self._heap.pop_due(self._clock.now()):
                # Kept referenced until done: the loop holds tasks only weakly.
                task = asyncio.create_task(self._fire(key), name=f"sla-deadline:{key}")
                self._firing.add(task)
                task.add_done_callback(self._firing.discard)
            next_due = self._heap.next_due()
            timeout = (
                None
                if next_due is None
                else max(0.0, (next_due - self._clock.now()).total_seconds())
            )
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass

    async def _fire(self, key: str) -> None:
        try:
            await asyncio.wait_for(self._on_due(key), self._fire_timeout)
        except Exception as exc:
            retry_at = self._clock.now() + self._retry_delay
            log.warning("sla.deadline_failed", key=key, error=repr(exc), retry_at=retry_at)
            self.schedule(key, retry_at)
