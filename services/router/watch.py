"""The router's own clocks: take tickets from assignees who miss their acknowledgement time,
and sweep the queues now and then for capacity no event announced (a shift starting)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from services.router.service import RouterService
from shared.logging import get_logger

log = get_logger(__name__)

#: Longest sleep between looks at the acknowledgement deadlines. Deadlines this replica sets
#: wake it at once; those another replica set are found within this time.
ACK_POLL = timedelta(seconds=5)
DUE_BATCH = 100


class Watchers:
    def __init__(self, router: RouterService, *, sweep_seconds: float) -> None:
        self._router = router
        self._sweep = sweep_seconds
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def wake(self) -> None:
        """A new acknowledgement deadline was set: look again now."""
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
        store, clock = self._router.store, self._router.clock
        while True:
            wait = ACK_POLL.total_seconds()
            try:
                for ticket in await store.due_acknowledgements(clock.now(), DUE_BATCH):
                    await self._router.acknowledgement_missed(ticket.ticket_id)
                upcoming = await store.next_acknowledgement()
                if upcoming is not None:
                    until = (upcoming - clock.now()).total_seconds()
                    wait = min(max(until, 0.01), wait)
            except Exception:
                log.exception("acknowledgements.failed")
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
