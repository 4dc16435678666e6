"""Intake's subscribers on the consumer kit: contacts become ticket events (once); routing
decisions are projected onto ticket records; agents' replies, self-help offers and
satisfaction surveys on email tickets are mailed to the customer; a ticket the customer solved
with an article is resolved."""

from __future__ import annotations

from typing import Any

from services.intake.service import CONTACT_GUARD, IntakeService
from shared.consuming import Batch, ConsumerKit, Delivery
from shared.events import (
    ContactReceived,
    CustomerEvent,
    InsightsEvent,
    KbEvent,
    RoutingEvent,
    TicketEvent,
)
from shared.publishing import Publisher
from shared.settings import ServiceSettings

#: The kb events intake acts on; any other (including types added later) is not parsed at all.
KB_EVENTS = frozenset({"kb.self_help_offered", "kb.deflected"})


def register(kit: ConsumerKit, settings: ServiceSettings, intake: IntakeService) -> None:
    topics = settings.topics

    @kit.subscriber(
        topics.contacts,
        name="intake.on_contact",
        events=ContactReceived,
        guard=CONTACT_GUARD,
        on_dead_letter=intake.contact_dead_lettered,
        description="Each contact opens a ticket or joins one (reopening it if closed).",
    )
    async def on_contact(batch: Batch[ContactReceived]) -> None:
        await intake.take_contacts(batch)

    @kit.subscriber(
        topics.routing,
        name="intake.on_routing",
        events=RoutingEvent,
        accepts=frozenset(
            {
                "ticket.routed",
                "ticket.assigned",
                "ticket.transferred",
                "ticket.queued",
                "ticket.escalated",
            }
        ),
        group="routing",
        description="Keeps each ticket's team, agent, category, priority and tier current.",
    )
    async def on_routing(batch: Batch[RoutingEvent]) -> None:
        await intake.project_routing(batch)

    @kit.subscriber(
        topics.tickets,
        name="intake.on_ticket",
        events=TicketEvent,
        accepts=frozenset({"ticket.agent_replied"}),
        group="replies",
        guard="reply-mail",
        description="Mails each agent's reply on an email ticket to the customer, once.",
    )
    async def on_ticket(batch: Batch[Any]) -> None:
        async def mail(delivery: Delivery[Any]) -> None:
            await intake.mail_reply(delivery.event)

        await batch.each(mail)

    @kit.subscriber(
        topics.kb,
        name="intake.on_kb",
        events=KbEvent,
        accepts=KB_EVENTS,
        group="kb",
        guard="kb",
        description="Mails self-help offers to email customers; resolves deflected tickets.",
    )
    async def on_kb(batch: Batch[Any]) -> None:
        async def act(delivery: Delivery[Any]) -> None:
            for event in await intake.on_kb(delivery.event):
                batch.publish(intake.tickets, event)

        await batch.each(act)

    @kit.subscriber(
        topics.insights,
        name="intake.on_insights",
        events=InsightsEvent,
        accepts=frozenset({"survey.offered"}),
        group="insights",
        guard="survey-mail",
        description="Mails each satisfaction survey on an email ticket to the customer, once.",
    )
    async def on_insights(batch: Batch[Any]) -> None:
        async def mail(delivery: Delivery[Any]) -> None:
            await intake.mail_survey(delivery.event)

        await batch.each(mail)

    customers_subscriber(kit, settings, intake)


def customers_subscriber(
    kit: ConsumerKit, settings: ServiceSettings, intake: IntakeService
) -> None:
    @kit.subscriber(
        settings.topics.customers,
        name="intake.on_customer",
        events=CustomerEvent,
        accepts=frozenset({"customer.erased"}),
        group="customers",
        description="Erases what intake keeps of a customer (erasing twice changes nothing).",
    )
    async def on_customer(batch: Batch[Any]) -> None:
        for delivery in batch:
            with batch.isolate(delivery):
                await intake.store.erase(delivery.event)


def ticket_publisher(kit: ConsumerKit, settings: ServiceSettings) -> Publisher:
    return kit.publisher(
        settings.topics.tickets,
        TicketEvent,
        title="intake.ticket_events",
        description="Tickets opened, contacts appended, agents' actions and status changes.",
    )
