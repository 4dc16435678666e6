"""What the SLA handlers share within one replica: rules, store, deadlines, ticket locks."""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.sla.domain import Rules, TicketSla
from services.sla.store import SlaStore
from services.sla.timer import Timer
from shared.clock import Clock


@dataclass
class SlaState:
    """What the handlers work with: the rules, stored tickets and the in-memory deadlines."""

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
    #: How long before a ticket's next moment its record is read (see `handlers.fire_ticket`).
    read_ahead: timedelta = timedelta(0)
    #: Saves under way after their events went out; a ticket is read again only once its
    #: save is done, so a firing cut off by its timeout is never decided twice.
    persisting: dict[str, asyncio.Future[bool]] = field(default_factory=dict)
    #: Tickets read ahead of their moment, kept current by the handlers until they fire.
    ahead: dict[str, tuple[TicketSla, int] | None] = field(default_factory=dict)

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

    def owns(self, partition: int | None) -> bool:
        return self.owned is None or partition is None or partition in self.owned

    def arm(self, ticket: TicketSla) -> None:
        """Hold the ticket's next moment in memory if it has one and its partition is ours."""
        if ticket.next_at is not None and self.owns(ticket.partition):
            self.schedule(ticket.ticket_id, ticket.next_at, ticket.partition)
        else:
            self.disarm(ticket.ticket_id)

    def schedule(self, ticket_id: str, next_at: datetime, partition: int | None) -> None:
        self.timer.schedule(ticket_id, next_at - self.read_ahead)
        self.armed[ticket_id] = partition

    def disarm(self, key: str) -> None:
        self.timer.cancel(key)
        self.armed.pop(key, None)

    def saved(self, ticket: TicketSla, revision: int) -> None:
        """A ticket read ahead of its moment changed: the firing must see the new one."""
        if ticket.ticket_id in self.ahead:
            self.ahead[ticket.ticket_id] = (ticket, revision)

    async def settled(self, ticket_id: str) -> None:
        """Wait for a save of this ticket still under way, whatever its outcome."""
        pending = self.persisting.get(ticket_id)
        if pending is not None:
            await asyncio.wait({pending})
