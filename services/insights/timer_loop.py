"""The follow-ups' clock: offers each survey and raises each wait's signal when its timer falls
due, and sends the managers' monthly reports when the month's first working day comes. It
wakes at the earliest timer this replica armed; those armed by other replicas are found within
the poll interval. Every replica may fire the same timer: what it publishes has ids
derived from the ticket and the timer's key, so consumers keep one."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from services.insights.service import FIRE_BATCH, InsightsService
from shared.logging import get_logger

log = get_logger(__name__)

#: How often a replica looks whether a monthly report fell due.
MONTHLY_CHECK = timedelta(minutes=1)


class FollowUpClock:
    def __init__(self, service: InsightsService, *, poll_seconds: float) -> None:
        self._service = service
        self._poll = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._until: datetime | None = None
        self._monthly_after: datetime | None = None

    def armed(self, due_at: datetime) -> None:
        """A timer was armed for `due_at`: wake now if that is before the planned wake-up."""
        if self._until is None or due_at < self._until:
            self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="insights.follow_ups")

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
                while await service.fire_due() >= FIRE_BATCH:
                    pass
                now = clock.now()
                if self._monthly_after is None or now >= self._monthly_after:
                    # A minute's lateness is nothing to a monthly mail; a read each round is.
                    self._monthly_after = now + MONTHLY_CHECK
                    await service.send_monthly_reports()
                upcoming = await service.next_due()
                if upcoming is not None:
                    wait = min(max((upcoming - clock.now()).total_seconds(), 0.01), wait)
            except Exception:
                log.exception("follow_ups.failed")
            self._until = clock.now() + timedelta(seconds=wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
