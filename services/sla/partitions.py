"""Which clocks this replica times: those of the partitions Kafka assigns it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from aiokafka import ConsumerRebalanceListener, TopicPartition

from services.sla.state import SlaState
from shared.logging import get_logger

log = get_logger(__name__)


class PartitionListener(ConsumerRebalanceListener):
    """Loads the armed tickets of assigned partitions into the timer; drops revoked ones.

    The tickets and routing topics have the same partition count and are both keyed by ticket
    id, and the subscriber uses the range assignor, which gives this replica the same
    partition numbers of each: the numbers alone say which tickets are ours.

    Loading is tried once during the rebalance. If MongoDB is away, a background task keeps
    trying with capped exponential backoff: an exception raised here would only be logged by
    aiokafka, and those partitions' deadlines would never fire. The task gives up the revoked
    partitions, and stops when none are left or the service stops.
    """

    def __init__(
        self,
        state: SlaState,
        *,
        first_delay: timedelta = timedelta(seconds=0.2),
        max_delay: timedelta = timedelta(seconds=30),
    ) -> None:
        self._state = state
        self._first_delay = first_delay.total_seconds()
        self._max_delay = max_delay.total_seconds()
        #: Assigned partitions whose clocks are not loaded yet.
        self._pending: set[int] = set()
        self._retrying: asyncio.Task[None] | None = None

    @property
    def retrying(self) -> bool:
        """Whether a background task is still trying to load some partitions' clocks."""
        return self._retrying is not None and not self._retrying.done()

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        partitions = {tp.partition for tp in revoked}
        dropped = [key for key, p in self._state.armed.items() if p in partitions]
        for key in dropped:
            self._state.disarm(key)
        if self._state.owned is not None:
            self._state.owned -= partitions
        self._pending -= partitions
        if not self._pending:
            await self.stop()
        log.info("sla.partitions_revoked", partitions=sorted(partitions), dropped=len(dropped))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        partitions = {tp.partition for tp in assigned}
        self._state.owned = set(partitions)
        self._pending |= partitions
        if self._retrying is None and not await self._load(attempt=1):
            self._retrying = asyncio.create_task(self._retry(), name="sla-load-clocks")

    async def stop(self) -> None:
        """Stop retrying (revoked partitions, or the service stops)."""
        task, self._retrying = self._retrying, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _retry(self) -> None:
        delay = self._first_delay
        attempt = 1
        try:
            while self._pending:
                await asyncio.sleep(delay)
                attempt += 1
                if await self._load(attempt=attempt):
                    # Anything still pending was assigned while the clocks were being read.
                    delay, attempt = self._first_delay, 0
                else:
                    delay = min(delay * 2, self._max_delay)
        finally:
            if self._retrying is asyncio.current_task():
                self._retrying = None

    async def _load(self, *, attempt: int) -> bool:
        """Arm the tickets of the pending partitions; False if they could not be read.

        A ticket stored under other policies or calendars than this replica's is armed to
        fire at once: firing recomputes its deadlines from the business time it has used.
        """
        partitions = set(self._pending)
        state = self._state
        loaded = 0
        try:
            async for armed in state.store.armed_in(partitions):
                # Partitions revoked while reading are no longer owned: leave them out.
                if not state.owns(armed.partition):
                    continue
                stale = armed.version != state.rules.version
                due = min(armed.next_at, state.clock.now()) if stale else armed.next_at
                # Earliest wins: a ticket may have an entry left behind by a crash or a lost
                # race beside its real one; firing early only reads it, firing late misses.
                state.schedule(armed.ticket_id, due, armed.partition, earliest=True)
                loaded += 1
        except Exception as exc:
            log.warning(
                "sla.load_failed",
                partitions=sorted(partitions),
                attempt=attempt,
                loaded=loaded,
                error=repr(exc),
            )
            return False
        self._pending -= partitions
        log.info("sla.partitions_loaded", partitions=sorted(partitions), loaded=loaded)
        return True
