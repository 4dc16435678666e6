"""A background loop that does a round of due work, then sleeps until the next moment the round
says something falls due (at most the poll interval), or until it is woken: a timer armed on
this replica wakes it at once, one armed by another replica is found within the poll."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from shared.clock import Clock
from shared.logging import get_logger

log = get_logger(__name__)

#: One round: do what is due, and say when the next thing falls due (None: nothing known).
Round = Callable[[], Awaitable[datetime | None]]


class WakingLoop:
    def __init__(self, name: str, round_: Round, clock: Clock, *, poll_seconds: float) -> None:
        self._name = name
        self._round = round_
        self._clock = clock
        self._poll = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._until: datetime | None = None

    def wake(self) -> None:
        self._wake.set()

    def armed(self, due_at: datetime) -> None:
        """Something falls due at `due_at`: wake now if that is before the planned wake-up."""
        if self._until is None or due_at < self._until:
            self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            wait = self._poll
            self._wake.clear()
            try:
                upcoming = await self._round()
                if upcoming is not None:
                    seconds = (upcoming - self._clock.now()).total_seconds()
                    wait = min(max(seconds, 0.01), wait)
            except Exception:
                log.exception("loop.failed", loop=self._name)
            self._until = self._clock.now() + timedelta(seconds=wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
