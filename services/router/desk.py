"""Placing tickets with agents: assign or queue, drain a team's queue when capacity frees, and
move a ticket (transfer, escalation, missed acknowledgement), each decision an event.

Order of effects for every decision: claim the agent's slot, publish the events, save the
ticket. A crash in between decides again after redelivery: the claimed slot makes the same
agent win (`choose` keeps the holder), and the events carry the same derived ids.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from services.router.domain.assignment import AgentState, Choice, choose, drain
from services.router.domain.rules import RoutingRules
from services.router.domain.tickets import RoutedTicket
from services.router.store import RoutingStore
from shared.business_calendar import Calendars
from shared.clock import Clock
from shared.directory import Directory
from shared.events import (
    Event,
    TicketAssigned,
    TicketQueued,
    TicketTransferred,
    TicketTransfersExceeded,
    TransferCause,
)
from shared.ids import derived_id
from shared.logging import get_logger

log = get_logger(__name__)

Publish = Callable[[Event], Awaitable[None]]
#: Queued tickets one drain looks at, at most; the next trigger takes the rest.
DRAIN_BATCH = 500


class TicketChanged(RuntimeError):
    """Another replica saved the ticket meanwhile; the input is retried on the new state."""

    def __init__(self, ticket_id: str) -> None:
        super().__init__(f"ticket {ticket_id} changed while it was being placed; retrying")


@dataclass(frozen=True)
class Cause:
    """What a decision answers: an input event, or the router's own timer."""

    key: str
    causation_id: str | None = None
    correlation_id: str | None = None

    @classmethod
    def of(cls, event: Event) -> Cause:
        return cls(str(event.event_id), str(event.event_id), event.correlation_id)

    def build(self, event_cls: type[Any], effect: str, **fields: Any) -> Any:
        return event_cls(
            event_id=derived_id(self.key, effect),
            causation_id=self.causation_id,
            correlation_id=self.correlation_id,
            **fields,
        )


@dataclass
class Desk:
    rules: RoutingRules
    directory: Directory
    calendars: Calendars
    store: RoutingStore
    publish: Publish
    clock: Clock
    #: Told when an acknowledgement deadline is set, so the watcher wakes for it.
    on_deadline: Callable[[], None] = lambda: None
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    def team_lock(self, team: str) -> asyncio.Lock:
        return self._locks.setdefault(team, asyncio.Lock())

    def _sequence(self) -> int:
        return int(self.clock.now().timestamp() * 1000)

    async def agent_states(self, team_name: str) -> list[AgentState]:
        team = self.directory.team(team_name)
        if team is None:
            return []
        records = await self.store.agent_records([a.person_id for a in team.agents])
        now = self.clock.now()
        states = []
        for agent in team.agents:
            record = records.get(agent.person_id, {})
            shift = agent.shift or team.shift_calendar
            states.append(
                AgentState(
                    agent=agent,
                    team=team.name,
                    presence=record.get("presence") or self.rules.assignment.initial_presence,
                    on_shift=shift is None or self.calendars.get(shift).is_open(now),
                    open={ch: tuple(ids) for ch, ids in record.get("open", {}).items()},
                    last_assigned=int(record.get("last_assigned", 0)),
                )
            )
        return states

    async def previous_agents(self, customer_id: str) -> tuple[str, ...]:
        record = await self.store.customer(customer_id)
        return tuple(record.get("agents", ())) if record else ()

    # -- deciding ---------------------------------------------------------------------------

    async def seat(
        self, ticket: RoutedTicket, cause: Cause, *, preferred: str | None = None
    ) -> tuple[RoutedTicket, list[Event]]:
        """Claim an agent for the ticket, or queue it; nothing is published or saved yet."""
        previous = await self.previous_agents(ticket.customer_id)
        needs = ticket.needs(previous)
        states = await self.agent_states(ticket.team)
        for _ in range(3):
            choice = self._preferred(ticket, states, preferred) or choose(
                needs, states, self.rules.assignment
            )
            if choice.agent_id is None:
                break
            agent = self.directory.agent(choice.agent_id)
            assert agent is not None  # states come from the directory
            capacity = agent.capacity_for(ticket.channel)
            sequence = self._sequence()
            if await self.store.claim(
                choice.agent_id, ticket.channel, ticket.ticket_id, capacity, sequence
            ):
                return self._assigned(ticket, choice, cause)
            # Another replica took the slot since the read: read the team again.
            states = await self.agent_states(ticket.team)
        else:
            choice = Choice(None, "every free agent was taken by other tickets meanwhile")
        return self._queued(ticket, choice, cause)

    def _preferred(
        self, ticket: RoutedTicket, states: Sequence[AgentState], preferred: str | None
    ) -> Choice | None:
        state = next((s for s in states if s.agent_id == preferred), None)
        if state is None or not state.available:
            return None
        if state.load(ticket.channel) >= state.capacity(ticket.channel):
            return None
        return Choice(state.agent_id, f"asked for by name: {state.agent.name}")

    def _assigned(
        self, ticket: RoutedTicket, choice: Choice, cause: Cause
    ) -> tuple[RoutedTicket, list[Event]]:
        assert choice.agent_id is not None
        now = self.clock.now()
        within = self.rules.assignment.acknowledge_within_seconds
        due = now + timedelta(seconds=within) if within is not None else None
        placed = ticket.model_copy(
            update={
                "state": "assigned",
                "agent_id": choice.agent_id,
                "ack_due_at": due,
                "acknowledged": False,
                "queue_reason": None,
                "history": ticket.noted(f"assigned to {choice.agent_id}: {choice.reason}"),
            }
        )
        assigned = cause.build(
            TicketAssigned,
            f"assigned:{ticket.ticket_id}:{ticket.transfer_count}",
            ticket_id=ticket.ticket_id,
            agent_id=choice.agent_id,
            team=ticket.team,
            tier=ticket.tier,
            acknowledge_by=due,
            reason=choice.reason,
        )
        return placed, [assigned]

    def _queued(
        self, ticket: RoutedTicket, choice: Choice, cause: Cause
    ) -> tuple[RoutedTicket, list[Event]]:
        order = self.rules.queues.order_for(ticket.team)
        waiting = ticket.model_copy(
            update={
                "state": "queued",
                "agent_id": None,
                "queued_seq": ticket.queued_seq or self._sequence(),
                "queued_at": ticket.queued_at or self.clock.now(),
                "queue_reason": choice.reason,
                "ack_due_at": None,
                "history": ticket.noted(f"queued in {ticket.team}: {choice.reason}"),
            }
        )
        queued = cause.build(
            TicketQueued,
            f"queued:{ticket.ticket_id}:{ticket.transfer_count}",
            ticket_id=ticket.ticket_id,
            team=ticket.team,
            tier=ticket.tier,
            priority=ticket.priority,
            order=order,
            reason=choice.reason,
        )
        return waiting, [queued]

    async def commit(
        self, before: RoutedTicket, revision: int, after: RoutedTicket, events: Sequence[Event]
    ) -> bool:
        """Publish, then save over the revision read; on a lost race give back the slot."""
        for event in events:
            await self.publish(event)
        if await self.store.save_ticket(after, revision):
            if after.ack_due_at is not None and after.ack_due_at != before.ack_due_at:
                self.on_deadline()
            return True
        if after.agent_id and after.agent_id != before.agent_id:
            await self.store.release(after.agent_id, after.ticket_id)
        log.warning("ticket.changed_meanwhile", ticket_id=after.ticket_id)
        return False

    async def place(
        self, ticket: RoutedTicket, revision: int, cause: Cause, preferred: str | None = None
    ) -> RoutedTicket:
        async with self.team_lock(ticket.team):
            after, events = await self.seat(ticket, cause, preferred=preferred)
            if not await self.commit(ticket, revision, after, events):
                raise TicketChanged(ticket.ticket_id)
        return after

    # -- queues -----------------------------------------------------------------------------

    async def drain(self, team: str, cause: Cause) -> int:
        """Give the team's queued tickets to agents with room, in the queue's order."""
        async with self.team_lock(team):
            states = await self.agent_states(team)
            if not any(s.available for s in states):
                return 0
            order = self.rules.queues.order_for(team)
            waiting = await self.store.queued(team, order, DRAIN_BATCH)
            if not waiting:
                return 0
            records = await self.store.customers([t.customer_id for t in waiting])
            needs = [
                t.needs(tuple(records.get(t.customer_id, {}).get("agents", ()))) for t in waiting
            ]
            placements, _ = drain(needs, states, self.rules.assignment, self._sequence())
            by_id = {t.ticket_id: t for t in waiting}
            placed = 0
            for placement in placements:
                ticket = by_id[placement.ticket_id]
                agent = self.directory.agent(placement.choice.agent_id or "")
                assert agent is not None
                claimed = await self.store.claim(
                    agent.person_id,
                    ticket.channel,
                    ticket.ticket_id,
                    agent.capacity_for(ticket.channel),
                    placement.sequence,
                )
                if not claimed:
                    break  # another replica changed the team meanwhile; its drain goes on
                stored = await self.store.ticket(ticket.ticket_id)
                if stored is None or stored[0].state != "queued":
                    await self.store.release(agent.person_id, ticket.ticket_id)
                    continue
                after, events = self._assigned(stored[0], placement.choice, cause)
                if await self.commit(stored[0], stored[1], after, events):
                    placed += 1
            if placed:
                log.info("queue.drained", team=team, assigned=placed, waiting=len(waiting))
            return placed

    # -- moving -----------------------------------------------------------------------------

    async def move(
        self,
        ticket: RoutedTicket,
        revision: int,
        cause: Cause,
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
        if old_agent is not None:
            await self.store.release(old_agent, ticket.ticket_id)
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
            after, events = await self.seat(moving, cause, preferred=preferred)
            if counted:
                events.insert(0, self._transferred(ticket, after, cause, kind, reason))
                after, events = self._report(after, cause, events)
            if not await self.commit(ticket, revision, after, events):
                raise TicketChanged(ticket.ticket_id)
        if old_agent is not None:
            await self.drain(old_team, cause)
        return after

    def _transferred(
        self,
        before: RoutedTicket,
        after: RoutedTicket,
        cause: Cause,
        kind: TransferCause,
        reason: str,
    ) -> Event:
        where = f"to {after.agent_id}" if after.agent_id else f"to the {after.team} queue"
        event: Event = cause.build(
            TicketTransferred,
            f"transferred:{before.ticket_id}:{after.transfer_count}",
            ticket_id=before.ticket_id,
            from_agent_id=before.agent_id,
            to_agent_id=after.agent_id,
            from_team=before.team,
            to_team=after.team,
            transfer_count=after.transfer_count,
            cause=kind,
            reason=f"{reason}; {where}",
        )
        return event

    def _report(
        self, ticket: RoutedTicket, cause: Cause, events: list[Event]
    ) -> tuple[RoutedTicket, list[Event]]:
        limit = self.rules.transfers.report_after
        team = self.directory.team(ticket.team)
        if ticket.transfer_count <= limit or ticket.transfers_reported or team is None:
            return ticket, events
        moves = [line for line in ticket.history if ":" in line and "assigned to" not in line]
        report = cause.build(
            TicketTransfersExceeded,
            f"transfers-exceeded:{ticket.ticket_id}",
            ticket_id=ticket.ticket_id,
            team=team.name,
            manager_id=team.manager.person_id,
            transfer_count=ticket.transfer_count,
            limit=limit,
            reason=f"transferred {ticket.transfer_count} times (limit {limit}): "
            + " | ".join(moves[-ticket.transfer_count :]),
        )
        return ticket.model_copy(update={"transfers_reported": True}), [*events, report]
