"""The router's use cases: route new tickets (a batch at a time), free and refill capacity,
acknowledge, escalate, transfer, follow presence; and what the HTTP API reads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager

from services.router import opening
from services.router.config import RouterConfig
from services.router.decisions import Cause
from services.router.dispatch import Dispatcher
from services.router.domain.assignment import AgentState
from services.router.domain.tickets import RoutedTicket
from services.router.escalation import Escalations
from services.router.outboxes import BatchOutbox, PublisherOutbox
from services.router.seating import Outbox
from services.router.store import RoutingStore
from services.router.triaging import customer_after
from shared.clock import Clock
from shared.consuming import Batch, Delivery
from shared.events import (
    AgentPresenceChanged,
    SlaWarning,
    TicketAgentReplied,
    TicketEscalationRequested,
    TicketEvent,
    TicketNoteAdded,
    TicketOpened,
    TicketPriorityChanged,
    TicketStatusChanged,
    TicketTransferRequested,
)
from shared.logging import get_logger
from shared.publishing import Publisher

log = get_logger(__name__)

RELEASING = frozenset({"resolved", "closed"})
ScoreMany = Callable[[Sequence[str]], Sequence[Mapping[str, float]]]


class UnknownTeam(LookupError):
    """A team the directory does not have."""


class UnknownAgent(LookupError):
    """An agent the directory does not have."""


class RouterService:
    def __init__(
        self,
        *,
        config: RouterConfig,
        store: RoutingStore,
        clock: Clock,
        score_many: ScoreMany,
        routing: Publisher,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.score_many = score_many
        self.routing = routing
        self.dispatcher = Dispatcher(
            rules=config.rules,
            directory=config.directory,
            calendars=config.calendars,
            store=store,
            clock=clock,
        )
        self.outbox = PublisherOutbox(routing)
        self.escalations = Escalations(config, store, self.dispatcher, clock)
        self._ticket_locks: dict[str, asyncio.Lock] = {}

    @asynccontextmanager
    async def _ticket(self, ticket_id: str) -> AsyncIterator[None]:
        """One input per ticket at a time in this replica (tickets and SLA warnings race)."""
        lock = self._ticket_locks.setdefault(ticket_id, asyncio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and self._ticket_locks.get(ticket_id) is lock:
                del self._ticket_locks[ticket_id]

    async def prepare(self) -> None:
        """Give every agent of the directory a record (with counters) before the first batch."""
        await self.store.prepare_agents(
            a.person_id for t in self.config.directory.teams for a in t.agents
        )

    # -- inputs -----------------------------------------------------------------------------

    async def ticket_events(self, batch: Batch[TicketEvent]) -> None:
        """A batch of ticket events: the new tickets in bulk, then the rest one by one."""
        opened = [d for d in batch if isinstance(d.event, TicketOpened)]
        if opened:
            await opening.open_tickets(self, batch, opened)
        others = {id(d) for d in batch if not isinstance(d.event, TicketOpened)}
        if others:
            outbox = BatchOutbox(batch, self.routing)

            async def one(delivery: Delivery[TicketEvent]) -> None:
                if id(delivery) in others:
                    async with self._ticket(delivery.event.ticket_id):
                        await self.ticket_changed(delivery.event, outbox)

            await batch.each(one)

    async def ticket_changed(self, event: TicketEvent, outbox: Outbox) -> None:
        if isinstance(event, TicketStatusChanged):
            await self.status_changed(event, outbox)
        elif isinstance(event, TicketAgentReplied | TicketNoteAdded):
            await self.touched(event)
        elif isinstance(event, TicketPriorityChanged):
            await self.priority_changed(event)
        elif isinstance(event, TicketEscalationRequested):
            await self.escalations.escalate(
                event.ticket_id,
                Cause.of(event),
                outbox,
                to_tier=event.to_tier,
                trigger="agent_request",
                requested_by=event.agent_id,
                why=event.reason,
            )
        elif isinstance(event, TicketTransferRequested):
            await self.escalations.transfer_requested(event, outbox)

    async def status_changed(self, event: TicketStatusChanged, outbox: Outbox) -> None:
        stored = await self.store.ticket(event.ticket_id)
        if stored is None:
            return
        ticket, revision = stored
        cause = Cause.of(event)
        if event.status in RELEASING and ticket.state != "closed":
            closed = ticket.model_copy(
                update={
                    "state": "closed",
                    "ack_due_at": None,
                    "history": ticket.noted(f"{event.status}; agent freed"),
                }
            )
            freed = await self.dispatcher.release(ticket, revision, cause)
            await self.dispatcher.save(ticket, closed, revision, [freed] if freed else [])
            await self.dispatcher.drain(ticket.team, cause, outbox)
        elif event.status == "reopened" and ticket.state == "closed":
            reopened = ticket.model_copy(update={"state": "queued", "queued_seq": None})
            await self.dispatcher.place(reopened, revision, cause, outbox)
        elif _touched(ticket, event.agent_id):
            await self._acknowledge(ticket, revision)

    async def priority_changed(self, event: TicketPriorityChanged) -> None:
        """An agent's new priority reorders the queue the ticket may wait in."""
        stored = await self.store.ticket(event.ticket_id)
        if stored is None or stored[0].priority == event.priority:
            return
        ticket, revision = stored
        changed = ticket.model_copy(
            update={
                "priority": event.priority,
                "history": ticket.noted(
                    f"priority {ticket.priority} to {event.priority} by {event.agent_id}"
                ),
            }
        )
        if _touched(ticket, event.agent_id):
            changed = changed.model_copy(update={"acknowledged": True, "ack_due_at": None})
        await self.dispatcher.save(ticket, changed, revision, [])

    async def touched(self, event: TicketAgentReplied | TicketNoteAdded) -> None:
        """An assignee acting on their ticket acknowledges it; a reply also remembers who helped."""
        stored = await self.store.ticket(event.ticket_id)
        if stored is None:
            return
        ticket, revision = stored
        if isinstance(event, TicketAgentReplied):
            customer = await self.store.customer(ticket.customer_id)
            helped = customer_after(customer, ticket, ticket.wording, helped_by=event.agent_id)
            await self.store.save_customers({ticket.customer_id: helped})
        if _touched(ticket, event.agent_id):
            await self._acknowledge(ticket, revision)

    async def _acknowledge(self, ticket: RoutedTicket, revision: int) -> None:
        done = ticket.model_copy(
            update={
                "acknowledged": True,
                "ack_due_at": None,
                "history": ticket.noted(f"acknowledged by {ticket.agent_id}"),
            }
        )
        await self.dispatcher.save(ticket, done, revision, [])

    async def sla_warning(self, event: SlaWarning, outbox: Outbox) -> None:
        escalation = self.config.rules.escalation
        threshold = escalation.at_sla_warning_percent
        if threshold is None or event.level_percent < threshold:
            return
        if event.metric not in escalation.metrics:
            return
        key = f"{event.metric}:{event.cycle}"
        async with self._ticket(event.ticket_id):
            stored = await self.store.ticket(event.ticket_id)
            if stored is None or key in stored[0].escalated_for or stored[0].state == "closed":
                return
            await self.escalations.escalate(
                event.ticket_id,
                Cause.of(event),
                outbox,
                to_tier=None,
                trigger="sla_warning",
                requested_by=None,
                escalated_for=key,
                why=f"{event.metric.replace('_', ' ')} SLA at {event.level_percent}% of its target",
            )

    async def acknowledgement_missed(self, ticket_id: str) -> None:
        """The watcher found the assignee did not touch the ticket in time."""
        await self.escalations.acknowledgement_missed(ticket_id, self.outbox)

    async def presence_changed(self, event: AgentPresenceChanged, outbox: Outbox) -> None:
        team = self.config.directory.team_of(event.agent_id)
        if team is None:
            raise ValueError(f"presence of unknown agent {event.agent_id!r}")
        changed = await self.store.set_presence(event.agent_id, event.presence, event.occurred_at)
        log.info("agent.presence", agent_id=event.agent_id, presence=event.presence)
        if changed and event.presence == "online":
            await self.dispatcher.drain(team.name, Cause.of(event), outbox)

    # -- the router's own clocks ------------------------------------------------------------

    async def sweep(self) -> None:
        """Offer every queue to free agents (a shift starting frees capacity without an event),
        and settle what a crash left in flight on agents nobody read since."""
        stamp = int(self.clock.now().timestamp() * 1000)
        for team in await self.store.queue_teams():
            await self.dispatcher.drain(team, Cause(f"sweep:{team}:{stamp}"), self.outbox)
        in_flight = await self.store.agents_in_flight()
        teams = {t.name for a in in_flight if (t := self.config.directory.team_of(a))}
        if teams:
            await self.dispatcher.tidy(await self.dispatcher.rosters.read(sorted(teams), {}))

    # -- what the HTTP API reads ------------------------------------------------------------

    async def queue(self, team: str, limit: int) -> list[RoutedTicket]:
        if self.config.directory.team(team) is None:
            raise UnknownTeam(f"no team {team!r} in teams.yaml")
        order = self.config.rules.queues.order_for(team)
        return [t for t, _ in await self.store.queued(team, order, limit)]

    async def agents(self) -> list[AgentState]:
        """Every agent as the router sees them, in one read."""
        teams = [t.name for t in self.config.directory.teams]
        roster = await self.dispatcher.rosters.read(teams, {})
        return [state for team in teams for state in roster.team(team)]

    async def held_by(self, agent_id: str, limit: int) -> list[RoutedTicket]:
        if self.config.directory.agent(agent_id) is None:
            raise UnknownAgent(f"no agent {agent_id!r} in teams.yaml")
        return await self.store.held_by(agent_id, limit)


def _touched(ticket: RoutedTicket, agent_id: str | None) -> bool:
    return (
        ticket.state == "assigned"
        and not ticket.acknowledged
        and agent_id is not None
        and agent_id == ticket.agent_id
    )
