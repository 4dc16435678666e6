"""What the SLA service holds within one replica: rules, store, deadlines, ticket locks."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.sla.domain.ticket import Rules, TicketSla
from services.sla.store import SlaStore, Stored
from services.sla.timer import Timer
from shared.clock import Clock
from shared.metrics import SLA_DEADLINES_ARMED

_UNARMED = object()


@dataclass
class SlaState:
    """What the use cases work with: the rules, stored tickets and the in-memory deadlines."""

    rules: Rules
    store: SlaStore
    timer: Timer
    clock: Clock
    #: Partition of each armed ticket, so a revoked partition's deadlines can be dropped.
    armed: dict[str, int | None] = field(default_factory=dict)
    #: Partition numbers this replica owns; None until Kafka first assigns any (in-memory broker).
    owned: set[int] | None = None
    #: One lock per ticket in use; a lock nobody holds or waits for is collected by itself.
    locks: weakref.WeakValueDictionary[str, asyncio.Lock] = field(
        default_factory=weakref.WeakValueDictionary
    )
    #: How long before a ticket's next moment its record is read (see `SlaService.fire`).
    read_ahead: timedelta = timedelta(0)
    #: Saves under way after their events went out; a ticket is read again only once its
    #: save is done, so a firing cut off by its timeout is never decided twice.
    persisting: dict[str, asyncio.Future[Any]] = field(default_factory=dict)
    #: Tickets read ahead of their moment, kept current by the subscriber until they fire.
    ahead: dict[str, Stored | None] = field(default_factory=dict)

    def lock_for(self, ticket_id: str) -> asyncio.Lock:
        """The lock held while one ticket's clocks are read, decided on, announced and saved.

        The subscriber and the firing deadlines run concurrently; without it a reply could be
        judged on a clock whose breach is being published, and both met and breached go out.
        One lock per ticket, not a few shared ones: a ticket whose save waits on a slow
        database must not hold up the deadlines of unrelated tickets.
        """
        lock = self.locks.get(ticket_id)
        if lock is None:
            lock = self.locks[ticket_id] = asyncio.Lock()
        return lock

    @asynccontextmanager
    async def holding(self, ticket_ids: Iterable[str]) -> AsyncIterator[None]:
        """Hold the locks of these tickets (a batch's), each once, then wait out any save of
        them still under way. Taken in one order, so two holders can never wait on each other."""
        wanted = sorted(set(ticket_ids))
        locks = [self.lock_for(ticket_id) for ticket_id in wanted]
        held: list[asyncio.Lock] = []
        try:
            for lock in locks:
                await lock.acquire()
                held.append(lock)
            pending = [self.persisting[t] for t in wanted if t in self.persisting]
            if pending:
                await asyncio.wait(pending)
            yield
        finally:
            for lock in reversed(held):
                lock.release()

    def owns(self, partition: int | None) -> bool:
        return self.owned is None or partition is None or partition in self.owned

    def arm(self, ticket: TicketSla) -> None:
        """Hold the ticket's next moment in memory if it has one and its partition is ours."""
        if ticket.next_at is not None and self.owns(ticket.partition):
            self.schedule(ticket.ticket_id, ticket.next_at, ticket.partition)
        else:
            self.disarm(ticket.ticket_id)

    def schedule(
        self, ticket_id: str, next_at: datetime, partition: int | None, *, earliest: bool = False
    ) -> None:
        """Fire the ticket `read_ahead` before `next_at`; with `earliest`, only if that is
        sooner than it fires now (loading: an index entry left behind by a crash or a lost
        race must not put off the real one; firing early only reads the ticket)."""
        at = next_at - self.read_ahead
        current = self.timer.due(ticket_id) if earliest else None
        if current is None or at < current:
            self.timer.schedule(ticket_id, at)
        if ticket_id not in self.armed:
            SLA_DEADLINES_ARMED.inc()
        self.armed[ticket_id] = partition

    def disarm(self, key: str) -> None:
        self.timer.cancel(key)
        self.unarmed(key)

    def unarmed(self, key: str) -> None:
        """The ticket's moment is no longer held here (dropped, or taken by the timer)."""
        if self.armed.pop(key, _UNARMED) is not _UNARMED:
            SLA_DEADLINES_ARMED.dec()

    def saved(self, stored: Stored) -> None:
        """A ticket was saved: armed as it now is, and a firing that read it ahead of its
        moment sees the new one."""
        ticket_id = stored.ticket.ticket_id
        if ticket_id in self.ahead:
            self.ahead[ticket_id] = stored
        self.arm(stored.ticket)

    async def settled(self, ticket_id: str) -> None:
        """Wait for a save of this ticket still under way, whatever its outcome."""
        pending = self.persisting.get(ticket_id)
        if pending is not None:
            await asyncio.wait({pending})
