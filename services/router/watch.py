"""The router's own clocks: take tickets from assignees who miss their acknowledgement time,
and sweep the queues now and then for capacity no event announced (a shift starting)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from services.router.service import RouterService
from shared.logging import get_logger

log = get_logger(__name__)

#: Longest sleep between looks at the acknowledgement deadlines. Deadlines this replica sets
#: wake it on time; those another replica set (or set before a restart) are found within this.
ACK_POLL = timedelta(seconds=5)
DUE_BATCH = 100


class Watchers:
    def __init__(self, router: RouterService, *, sweep_seconds: float) -> None:
        self._router = router
        self._sweep = sweep_seconds
        self._wake = asyncio.Event()
        #: The earliest acknowledgement deadline this replica set and has not looked at yet.
        self._next: datetime | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def wake(self, due: datetime) -> None:
        """A new acknowledgement deadline was set: wake for it (at once if it is sooner)."""
        if self._next is None or due < self._next:
            self._next = due
            self._wake.set()

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._acknowledgements(), name="router.acknowledgements"),
            asyncio.create_task(self._sweeps(), name="router.queue-sweeps"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _acknowledgements(self) -> None:
        """Take the tickets whose acknowledgement is due, then sleep until this replica's next
        deadline or `ACK_POLL`, whichever comes first. The deadlines are kept in memory, not
        asked of the database: finding the next one there costs a read of every assigned
        ticket, while asking which are due now reads only those."""
        store, clock = self._router.store, self._router.clock
        while True:
            now = clock.now()
            if self._next is not None and self._next <= now:
                self._next = None
            try:
                for ticket in await store.due_acknowledgements(now, DUE_BATCH):
                    await self._router.acknowledgement_missed(ticket.ticket_id)
            except Exception:
                log.exception("acknowledgements.failed")
            wait = ACK_POLL.total_seconds()
            if self._next is not None:
                wait = min(max((self._next - clock.now()).total_seconds(), 0.01), wait)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def _sweeps(self) -> None:
        while True:
            await asyncio.sleep(self._sweep)
            try:
                await self._router.sweep()
            except Exception:
                log.exception("queue_sweep.failed")
