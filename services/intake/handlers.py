"""Intake's subscribers: contacts become ticket events (once); routing decisions are projected
onto ticket records; agents' replies to email tickets are mailed to the customer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from faststream.kafka import KafkaBroker

from services.intake.contacts import ContactProcessor
from services.intake.domain import message_key
from services.intake.replies import build_reply, reply_message_id, send_reply
from services.intake.settings import IntakeSettings
from services.intake.store import IntakeStore
from shared.broker import consumer_options, publish_event
from shared.events import (
    ContactReceived,
    RoutingEvent,
    TicketAgentReplied,
    TicketAssigned,
    TicketContactAppended,
    TicketEscalated,
    TicketOpened,
    TicketQueued,
    TicketRouted,
    TicketStatusChanged,
    TicketTransferred,
    ticket_events,
)
from shared.idempotency import ProcessedEvents
from shared.logging import bound, get_logger

log = get_logger(__name__)


@dataclass
class IntakeDeps:
    store: IntakeStore
    processed: ProcessedEvents
    contacts: ContactProcessor


def projection(event: RoutingEvent) -> dict[str, Any]:
    """What a routing decision changes on intake's ticket record."""
    if isinstance(event, TicketRouted):
        return {
            "team": event.team,
            "category": event.category,
            "priority": event.priority,
            "tier": event.tier,
        }
    if isinstance(event, TicketAssigned):
        return {"team": event.team, "agent_id": event.agent_id}
    if isinstance(event, TicketTransferred):
        return {
            "team": event.to_team,
            "agent_id": event.to_agent_id,
            "transfer_count": event.transfer_count,
        }
    if isinstance(event, TicketQueued):
        return {"team": event.team, "agent_id": None, "tier": event.tier}
    if isinstance(event, TicketEscalated):
        return {"tier": event.to_tier}
    return {}


def register(broker: KafkaBroker, settings: IntakeSettings, deps: IntakeDeps) -> None:
    # Declared for the AsyncAPI document; handlers publish explicitly, keyed by ticket.
    for event_cls in (TicketOpened, TicketContactAppended, TicketStatusChanged):
        broker.publisher(
            settings.topics.tickets,
            title=event_cls.model_fields["event_type"].default,
            schema=event_cls,
        )

    @broker.subscriber(
        settings.topics.contacts,
        title="intake.on_contact",
        description="Each contact opens a ticket or joins one (reopening it if closed).",
        **consumer_options(settings),
    )
    async def on_contact(contact: ContactReceived) -> None:
        if await deps.processed.seen("contact", contact.event_id):
            return
        # A ContactRejected is a ValueError: the dead-letter middleware keeps it with its reason.
        decision = await deps.contacts.process(contact)
        with bound(ticket_id=decision["ticket_id"], contact_id=contact.contact_id):
            # Published once: a contact seen again (a new event id, a redelivery) finds its
            # decision already out. Only a crash between publishing and this mark repeats it,
            # with the same event ids, which consumers drop.
            if not decision.get("published"):
                for raw in decision["events"]:
                    event = ticket_events.validate_python(raw)
                    await publish_event(broker, settings.topics.tickets, event)
                await deps.store.mark_published(contact.contact_id)
            await deps.processed.mark("contact", contact.event_id)
            log.info("contact.applied", outcome=decision["outcome"])

    @broker.subscriber(
        settings.topics.routing,
        title="intake.on_routing",
        description="Keeps each ticket's team, agent, category, priority and tier current.",
        **consumer_options(settings, group_id=f"{settings.consumer_group}.routing"),
    )
    async def on_routing(event: RoutingEvent) -> None:
        changes = projection(event)
        if event.ticket_id and changes:
            await deps.store.project(event.ticket_id, changes)

    @broker.subscriber(
        settings.topics.tickets,
        title="intake.on_ticket",
        description="Mails each agent's reply on an email ticket to the customer, once.",
        **consumer_options(settings, group_id=f"{settings.consumer_group}.replies"),
    )
    async def on_ticket(body: dict[str, Any]) -> None:
        if body.get("event_type") != "ticket.agent_replied":
            return
        reply = TicketAgentReplied.model_validate(body)
        if await deps.processed.seen("reply-mail", reply.event_id):
            return
        ticket = await deps.store.ticket(reply.ticket_id)
        if ticket is None or ticket.get("channel") != "email" or not ticket.get("reply_to"):
            return
        # Known before it is sent, so a customer's quick answer already threads.
        await deps.store.remember_key(
            message_key(reply_message_id(reply, settings.smtp_from)), ticket["_id"]
        )
        await send_reply(build_reply(reply, ticket, settings.smtp_from), settings)
        await deps.processed.mark("reply-mail", reply.event_id)
        log.info("reply.mailed", ticket_id=reply.ticket_id, to=ticket["reply_to"])
