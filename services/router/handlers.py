"""The router's subscribers on the consumer kit: ticket events (route new tickets in bulk;
release, touch, escalate, transfer), SLA warnings (escalate at the configured level) and agents'
presence (refill from the queue)."""

from __future__ import annotations

from typing import Any

from services.router.outboxes import BatchOutbox
from services.router.service import RouterService
from shared.consuming import Batch, ConsumerKit, Delivery
from shared.events import (
    AgentEvent,
    AgentPresenceChanged,
    CustomerEvent,
    CustomerMerged,
    SlaEvent,
    SlaWarning,
    TicketEvent,
)

TICKET_TYPES = frozenset(
    {
        "ticket.opened",
        "ticket.status_changed",
        "ticket.agent_replied",
        "ticket.note_added",
        "ticket.priority_changed",
        "ticket.escalation_requested",
        "ticket.transfer_requested",
    }
)


def register(kit: ConsumerKit, service: RouterService) -> None:
    topics = kit.settings.topics

    @kit.subscriber(
        topics.tickets,
        name="router.on_ticket",
        events=TicketEvent,
        accepts=TICKET_TYPES,
        # Guarded: a repeated transfer or escalation request would move the ticket again.
        guard="ticket",
        description="Routes new tickets, frees agents on resolve, escalates and transfers on "
        "request; an assignee's action acknowledges the ticket.",
    )
    async def on_ticket(batch: Batch[TicketEvent]) -> None:
        await service.ticket_events(batch)

    @kit.subscriber(
        topics.sla,
        name="router.on_sla",
        events=SlaEvent,
        accepts=frozenset({"sla.warning"}),
        group="sla",
        # No guard: a warning escalates a ticket once per metric and cycle (`escalated_for`).
        description="Escalates a ticket a tier when an SLA warning reaches the configured level.",
    )
    async def on_sla(batch: Batch[SlaEvent]) -> None:
        outbox = BatchOutbox(batch, service.routing)

        async def one(delivery: Delivery[Any]) -> None:
            event: SlaWarning = delivery.event
            await service.sla_warning(event, outbox)

        await batch.each(one)

    @kit.subscriber(
        topics.agents,
        name="router.on_presence",
        events=AgentEvent,
        accepts=frozenset({"agent.presence_changed"}),
        group="agents",
        # No guard: a report older than the stored one, or the same again, changes nothing.
        description="Records agents' presence; an agent coming online takes queued tickets.",
    )
    async def on_presence(batch: Batch[AgentEvent]) -> None:
        outbox = BatchOutbox(batch, service.routing)

        async def one(delivery: Delivery[Any]) -> None:
            event: AgentPresenceChanged = delivery.event
            await service.presence_changed(event, outbox)

        await batch.each(one)

    @kit.subscriber(
        topics.customers,
        name="router.on_customer",
        events=CustomerEvent,
        accepts=frozenset({"customer.merged", "customer.erased"}),
        group="customers",
        # No guard: folding a record already folded, or erasing one already gone, does nothing.
        description="Folds a merged customer's record into the survivor (previous agents, "
        "tiers reached); erases what it keeps of an erased customer.",
    )
    async def on_customer(batch: Batch[Any]) -> None:
        async def one(delivery: Delivery[Any]) -> None:
            event = delivery.event
            if isinstance(event, CustomerMerged):
                await service.store.merge_customer(event.customer_id, event.merged_id)
            else:
                await service.store.erase_customers(event.customer_ids)

        await batch.each(one)
