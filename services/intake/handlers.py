"""Intake's subscriber: each received contact opens a ticket (once) and announces it."""

from __future__ import annotations

from dataclasses import dataclass

from faststream.kafka import KafkaBroker

from services.intake.domain import identities_of, open_ticket
from services.intake.settings import IntakeSettings
from services.intake.store import IntakeStore
from shared.broker import consumer_options, publish_event
from shared.events import ContactReceived, TicketOpened
from shared.idempotency import ProcessedEvents
from shared.logging import bound, get_logger

log = get_logger(__name__)


@dataclass
class IntakeDeps:
    store: IntakeStore
    processed: ProcessedEvents


def register(broker: KafkaBroker, settings: IntakeSettings, deps: IntakeDeps) -> None:
    # Declared for the AsyncAPI document; handlers publish explicitly, keyed by ticket.
    broker.publisher(settings.topics.tickets, title="ticket.opened", schema=TicketOpened)

    @broker.subscriber(
        settings.topics.contacts,
        title="intake.on_contact",
        description="Turns each received contact into a ticket.",
        **consumer_options(settings),
    )
    async def on_contact(contact: ContactReceived) -> None:
        if await deps.processed.seen("open", contact.event_id):
            return
        customer = await deps.store.recognise(identities_of(contact, settings.default_phone_region))
        opened = open_ticket(
            contact, customer["_id"], customer.get("plan", "standard"), settings.max_body_chars
        )
        stored = await deps.store.open_ticket(opened)
        with bound(ticket_id=stored.ticket_id):
            await publish_event(broker, settings.topics.tickets, stored)
            await deps.processed.mark("open", contact.event_id)
            log.info("ticket.opened", customer_id=stored.customer_id, channel=stored.channel)
