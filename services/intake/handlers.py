"""Intake's subscribers: contacts become ticket events (once); routing decisions are projected
onto ticket records; agents' replies and self-help offers on email tickets are mailed to the
customer; a ticket the customer solved with an article is resolved."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from faststream.kafka import KafkaBroker

from services.intake.contacts import ContactProcessor
from services.intake.domain import InvalidTransition, message_key, status_after
from services.intake.replies import build_reply, reply_message_id, send_reply
from services.intake.self_help import build_self_help, self_help_message_id
from services.intake.settings import IntakeSettings
from services.intake.store import IntakeStore
from shared.broker import PermanentError, consumer_options, publish_event
from shared.events import (
    ContactReceived,
    KbDeflected,
    KbSelfHelpOffered,
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
    kb_events,
    ticket_events,
)
from shared.idempotency import ProcessedEvents
from shared.logging import bound, get_logger

log = get_logger(__name__)

# The kb events intake acts on; any other (including types added later) is not parsed at all.
KB_EVENTS = frozenset({"kb.self_help_offered", "kb.deflected"})
# How often a deflection re-reads a ticket an agent is changing at the same moment.
DEFLECT_TRIES = 3


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


def resolvable(status: str) -> bool:
    """Whether a ticket can still be resolved: it is not resolved or closed already."""
    try:
        status_after(status, "resolve")
    except InvalidTransition:
        return False
    return True


async def mail_self_help(
    offer: KbSelfHelpOffered, settings: IntakeSettings, deps: IntakeDeps
) -> None:
    """Mail an email ticket's customer the offered articles and their page, once."""
    if await deps.processed.seen("self-help-mail", offer.event_id):
        return
    ticket = await deps.store.ticket(offer.ticket_id)
    if ticket is None:
        raise PermanentError(f"no ticket {offer.ticket_id} to offer self-help on")
    if ticket.get("channel") != "email" or not ticket.get("reply_to"):
        # The chat widget fetches the self-help page itself; a phone caller has no address.
        log.info("self_help.not_mailed", channel=ticket.get("channel"))
        return
    if not resolvable(ticket["status"]):
        log.info("self_help.not_mailed", status=ticket["status"])
        return
    # Known before it is sent, so a customer's quick answer already threads.
    await deps.store.remember_key(
        message_key(self_help_message_id(offer, settings.smtp_from)), ticket["_id"]
    )
    await send_reply(build_self_help(offer, ticket, settings.smtp_from), settings)
    await deps.processed.mark("self-help-mail", offer.event_id)
    log.info("self_help.mailed", articles=[a.article_id for a in offer.articles])


async def claim_resolution(deflected: KbDeflected, deps: IntakeDeps) -> TicketStatusChanged | None:
    """Resolve the deflected ticket in the store, once; the event to publish, or None when the
    ticket was resolved or closed already."""
    for _ in range(DEFLECT_TRIES):
        ticket = await deps.store.ticket(deflected.ticket_id)
        if ticket is None:
            raise PermanentError(f"no ticket {deflected.ticket_id} to resolve")
        resolved = deflected.caused(
            TicketStatusChanged,
            "deflected-resolve",
            customer_id=ticket["customer_id"],
            correlation_id=deflected.correlation_id or ticket.get("contact_id"),
            status="resolved",
            previous_status=ticket["status"],
            agent_id=None,
            reason=f"solved by self-help article {deflected.article_id}",
        )
        for past in ticket.get("history", []):
            if past.get("event_id") == str(resolved.event_id):
                # This deflection resolved it before its publish failed: publish the same again.
                return TicketStatusChanged.model_validate(past)
        if not resolvable(ticket["status"]):
            return None
        # Compare and set: an agent changing the ticket meanwhile makes us read it again.
        if await deps.store.transition(ticket["_id"], ticket["status"], "resolved"):
            await deps.store.record(ticket["_id"], resolved)
            return resolved
    raise RuntimeError(f"ticket {deflected.ticket_id} kept changing while being resolved")


async def resolve_deflected(
    deflected: KbDeflected, broker: KafkaBroker, settings: IntakeSettings, deps: IntakeDeps
) -> None:
    """The customer said an article solved it: resolve the ticket if it is still open."""
    if await deps.processed.seen("deflection", deflected.event_id):
        return
    resolved = await claim_resolution(deflected, deps)
    if resolved is not None:
        await publish_event(broker, settings.topics.tickets, resolved)
        log.info("ticket.deflected", article_id=deflected.article_id)
    else:
        log.info("deflection.ignored", reason="ticket already resolved or closed")
    await deps.processed.mark("deflection", deflected.event_id)


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

    @broker.subscriber(
        settings.topics.kb,
        title="intake.on_kb",
        description="Mails self-help offers to email customers; resolves deflected tickets.",
        **consumer_options(settings, group_id=f"{settings.consumer_group}.kb"),
    )
    async def on_kb(body: dict[str, Any]) -> None:
        if body.get("event_type") not in KB_EVENTS:
            return
        event = kb_events.validate_python(body)
        if isinstance(event, KbSelfHelpOffered):
            await mail_self_help(event, settings, deps)
        elif isinstance(event, KbDeflected):
            await resolve_deflected(event, broker, settings, deps)
