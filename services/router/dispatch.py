"""Placing one ticket with an agent or its queue, draining a team's queue when capacity frees,
and moving a ticket (transfer, escalation, missed acknowledgement), on top of `Seating`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.router import decisions
from services.router.decisions import Cause
from services.router.domain.slots import SlotChange, release
from services.router.domain.tickets import RoutedTicket
from services.router.roster import Roster
from services.router.seating import Outbox, Plan, Seat, Seating, TicketChanged
from services.router.store import Stored
from shared.directory import CHANNELS
from shared.events import TransferCause
from shared.logging import get_logger

log = get_logger(__name__)

#: Queued tickets one drain looks at, at most; the next trigger takes the rest.
DRAIN_BATCH = 500
#: Queued tickets a drain reads at least: tickets nobody free can take are passed over.
DRAIN_LEAST = 10


class Dispatcher(Seating):
    """`Seating` and the flows of one ticket and one queue built on it."""

    # -- one ticket ---------------------------------------------------------------------------

    async def previous_agents(self, customer_id: str) -> tuple[str, ...]:
        record = await self.store.customer(customer_id)
        return tuple(record.get("agents", ())) if record else ()

    async def place(
        self,
        ticket: RoutedTicket,
        revision: int,
        cause: Cause,
        outbox: Outbox,
        preferred: str | None = None,
    ) -> RoutedTicket:
        async with self.team_lock(ticket.team):
            roster = await self.rosters.read([ticket.team], {ticket.ticket_id: (ticket, revision)})
            previous = await self.previous_agents(ticket.customer_id)
            [plan] = await self.seat_all(
                roster, [Seat(ticket, revision, cause, previous, preferred)]
            )
            plan.before = ticket
            if not await self.commit([plan], outbox, roster):
                raise TicketChanged(ticket.ticket_id)
        return plan.ticket

    async def release(self, ticket: RoutedTicket, revision: int, cause: Cause) -> SlotChange | None:
        """Give back the slot the ticket holds (applied now, final with the ticket's save)."""
        if ticket.agent_id is None:
            return None
        change = release(ticket.agent_id, ticket.channel, ticket.ticket_id, revision, cause.digest)
        await self.store.change_slots([change])
        return change

    async def save(
        self, before: RoutedTicket, after: RoutedTicket, revision: int, changes: list[SlotChange]
    ) -> None:
        """Save a change of the ticket that places nobody (closing, acknowledging)."""
        if not await self.commit([Plan(after, revision, changes, [], before)], None):
            raise TicketChanged(after.ticket_id)

    # -- queues -----------------------------------------------------------------------------

    async def drain(self, team: str, cause: Cause, outbox: Outbox) -> int:
        """Give the team's queued tickets to agents with room, in the queue's order. It reads
        as many as the free slots could take (and some to pass over), and reads on only while
        slots stay free and tickets were passed over, up to `DRAIN_BATCH`."""
        async with self.team_lock(team):
            roster = await self.rosters.read([team], {})
            free = sum(
                max(0, s.capacity(ch) - s.load(ch))
                for s in roster.team(team)
                if s.available
                for ch in CHANNELS
            )
            order = self.rules.queues.order_for(team)
            window = min(DRAIN_BATCH, max(DRAIN_LEAST, 2 * free))
            placed = passed = 0
            while free > 0 and passed < DRAIN_BATCH:
                waiting = await self.store.queued(team, order, window, skip=passed)
                if not waiting:
                    break
                known: dict[str, Stored | None] = {t.ticket_id: (t, r) for t, r in waiting}
                if placed or passed:
                    roster = await self.rosters.read([team], known)
                else:
                    await self.rosters.know(roster, known)
                taken = await self._drain_page(roster, waiting, cause, outbox)
                placed += taken
                passed += len(waiting) - taken
                free -= taken
                if len(waiting) < window:
                    break
                window = min(DRAIN_BATCH, 2 * window)
            await self.tidy(roster)
            if placed:
                log.info("queue.drained", team=team, assigned=placed)
            return placed

    async def _drain_page(
        self, roster: Roster, waiting: Sequence[Stored], cause: Cause, outbox: Outbox
    ) -> int:
        records = await self.store.customers({t.customer_id for t, _ in waiting})
        seats = [
            Seat(t, r, cause, tuple(records.get(t.customer_id, {}).get("agents", ())))
            for t, r in waiting
        ]
        # A ticket nobody can take keeps its place (and its record: nothing is saved).
        plans = await self.assign_some(roster, seats)
        return len(await self.commit(plans, outbox, roster)) if plans else 0

    # -- moving -----------------------------------------------------------------------------

    async def move(
        self,
        ticket: RoutedTicket,
        revision: int,
        cause: Cause,
        outbox: Outbox,
        *,
        to_team: str,
        changes: dict[str, Any],
        kind: TransferCause,
        reason: str,
        preferred: str | None = None,
    ) -> RoutedTicket:
        """Take the ticket from its agent and team and place it again; a move between agents
        or teams is a transfer, counted and reported past the limit."""
        old_agent, old_team = ticket.agent_id, ticket.team
        counted = old_agent is not None or to_team != old_team
        freed = await self.release(ticket, revision, cause)
        moving = ticket.model_copy(
            update={
                **changes,
                "team": to_team,
                "agent_id": None,
                "state": "queued",
                "queued_seq": None,
                "queued_at": None,
                "transfer_count": ticket.transfer_count + int(counted),
                "history": ticket.noted(f"{kind.replace('_', ' ')}: {reason}"),
            }
        )
        async with self.team_lock(to_team):
            roster = await self.rosters.read([to_team], {ticket.ticket_id: (ticket, revision)})
            previous = await self.previous_agents(ticket.customer_id)
            [plan] = await self.seat_all(
                roster, [Seat(moving, revision, cause, previous, preferred)]
            )
            if freed is not None:
                plan.changes.insert(0, freed)
            if counted:
                plan.events.insert(
                    0, decisions.transferred(ticket, plan.ticket, cause, kind, reason)
                )
                plan.ticket, report = decisions.reported(
                    plan.ticket, cause, self.rules, self.directory
                )
                if report is not None:
                    plan.events.append(report)
            plan.before = ticket
            if not await self.commit([plan], outbox, roster):
                raise TicketChanged(ticket.ticket_id)
        if old_agent is not None:
            await self.drain(old_team, cause, outbox)
        return plan.ticket
