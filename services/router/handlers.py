"""The router's subscribers: ticket events (route, release, touch, escalate, transfer), SLA
warnings (escalate at the configured level) and agents' presence (refill from the queue)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from faststream.kafka import KafkaBroker

from services.router.flows import Flows
from services.router.settings import RouterSettings
from shared.broker import consumer_options
from shared.events import (
    AgentEvent,
    RoutingEvent,
    SlaEvent,
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
from shared.idempotency import ProcessedEvents


@dataclass
class RouterState:
    flows: Flows
    processed: ProcessedEvents
    _ticket_locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    @asynccontextmanager
    async def ticket(self, ticket_id: str) -> AsyncIterator[None]:
        """One input per ticket at a time in this replica (tickets and SLA warnings race)."""
        lock = self._ticket_locks.setdefault(ticket_id, asyncio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and self._ticket_locks.get(ticket_id) is lock:
                del self._ticket_locks[ticket_id]


async def on_ticket_event(state: RouterState, event: TicketEvent) -> None:
    flows = state.flows
    if isinstance(event, TicketOpened):
        await flows.opened(event)
    elif isinstance(event, TicketStatusChanged):
        await flows.status_changed(event)
    elif isinstance(event, TicketAgentReplied | TicketNoteAdded):
        await flows.touched(event)
    elif isinstance(event, TicketPriorityChanged):
        await flows.priority_changed(event)
    elif isinstance(event, TicketEscalationRequested):
        await flows.escalation_requested(event)
    elif isinstance(event, TicketTransferRequested):
        await flows.transfer_requested(event)


def register(broker: KafkaBroker, settings: RouterSettings, state: RouterState) -> None:
    # Declared for the AsyncAPI document; as decorators they would publish the return value.
    broker.publisher(settings.topics.routing, title="routing.decisions", schema=RoutingEvent)
    broker.publisher(settings.topics.agents, title="agent.presence_changed", schema=AgentEvent)

    @broker.subscriber(
        settings.topics.tickets,
        title="router.on_ticket",
        description="Routes new tickets, frees agents on resolve, escalates and transfers on "
        "request; an assignee's action acknowledges the ticket.",
        **consumer_options(settings),
    )
    async def on_ticket(event: TicketEvent) -> None:
        if await state.processed.seen("ticket", event.event_id):
            return
        async with state.ticket(event.ticket_id):
            await on_ticket_event(state, event)
        await state.processed.mark("ticket", event.event_id)

    @broker.subscriber(
        settings.topics.sla,
        title="router.on_sla",
        description="Escalates a ticket a tier when an SLA warning reaches the configured level.",
        **consumer_options(settings, group_id=f"{settings.consumer_group}.sla"),
    )
    async def on_sla(event: SlaEvent) -> None:
        if not isinstance(event, SlaWarning) or await state.processed.seen("sla", event.event_id):
            return
        async with state.ticket(event.ticket_id):
            await state.flows.sla_warning(event)
        await state.processed.mark("sla", event.event_id)

    @broker.subscriber(
        settings.topics.agents,
        title="router.on_presence",
        description="Records agents' presence; an agent coming online takes queued tickets.",
        **consumer_options(settings, group_id=f"{settings.consumer_group}.agents"),
    )
    async def on_presence(event: AgentEvent) -> None:
        if await state.processed.seen("presence", event.event_id):
            return
        await state.flows.presence_changed(event)
        await state.processed.mark("presence", event.event_id)
