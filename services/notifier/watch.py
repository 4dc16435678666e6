"""The ladders' clock: tells the next rung of each escalation nobody acknowledged in time.

It wakes at the deadline of a ladder this replica armed; those other replicas armed are found
within the poll interval. Climbing is conditional, so replicas never climb one rung twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from services.notifier.service import NotifierService
from shared.logging import get_logger

log = get_logger(__name__)


class LadderClock:
    def __init__(self, service: NotifierService, *, poll_seconds: float) -> None:
        self._service = service
        self._poll = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="notifier.ladders")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        service, clock = self._service, self._service.clock
        while True:
            wait = self._poll
            self._wake.clear()
            try:
                await service.climb_due()
                horizon = clock.now() + timedelta(seconds=wait)
                upcoming = await service.store.next_escalation_due(horizon)
                if upcoming is not None:
                    wait = min(max((upcoming - clock.now()).total_seconds(), 0.01), wait)
            except Exception:
                log.exception("ladders.failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
