"""The notifier's subscribers on the consumer kit: the work done once per event in the shared
groups (one per topic), and live pushes on every replica (a group of its own per replica)."""

from __future__ import annotations

import operator
from functools import reduce
from typing import Annotated, Any, get_args

from pydantic import Field

from services.notifier.live import Live
from services.notifier.service import NotifierService
from services.notifier.settings import NotifierSettings
from shared.consuming import Batch, ConsumerKit
from shared.events import CustomerErased, CustomerEvent, Event, RoutingEvent, SlaEvent, TicketEvent
from shared.events.notifications import NotificationEvent


def _types(*unions: Any) -> dict[str, type[Event]]:
    """event_type -> model, over discriminated unions."""
    found: dict[str, type[Event]] = {}
    for union in unions:
        for cls in get_args(get_args(union)[0]):
            found[cls.model_fields["event_type"].default] = cls
    return found


#: The ticket events the board or the ladders act on; other ticket events are skipped unread.
TICKET_TYPES = frozenset({"ticket.opened", "ticket.status_changed", "ticket.priority_changed"})
ROUTING_TYPES = frozenset(_types(RoutingEvent))
SLA_TYPES = frozenset(_types(SlaEvent))
#: Everything a console is told of (not the audit trail of deliveries), and erasures, which
#: blank the rows a replica holds in memory and on the consoles that show them.
LIVE_TYPES = TICKET_TYPES | ROUTING_TYPES | SLA_TYPES
LIVE_TYPES |= {"notification.pushed", "escalation.acknowledged", "customer.erased"}
_LIVE = _types(TicketEvent, RoutingEvent, SlaEvent, NotificationEvent)
_LIVE["customer.erased"] = CustomerErased
LiveEvent: Any = Annotated[
    reduce(operator.or_, (_LIVE[kind] for kind in sorted(LIVE_TYPES))),
    Field(discriminator="event_type"),
]


def register(
    kit: ConsumerKit, settings: NotifierSettings, service: NotifierService, live: Live
) -> None:
    topics = settings.topics

    # No processed-event guard on these three: every effect is idempotent by itself. The
    # board is a projection with a version guard; outbox jobs and ladders are inserted under
    # ids derived from the event (a repeat is left out); a push is published again under the
    # same id, which every replica's push consumer drops; stopping a ladder is conditional.

    @kit.subscriber(
        topics.tickets,
        name="notifier.on_ticket",
        events=TicketEvent,
        accepts=TICKET_TYPES,
        description="Keeps the board (subject, customer, status) and stops the escalation "
        "ladders of a ticket resolved or closed.",
    )
    async def on_ticket(batch: Batch[Event]) -> None:
        await service.on_events(batch)

    @kit.subscriber(
        topics.routing,
        name="notifier.on_routing",
        events=RoutingEvent,
        accepts=ROUTING_TYPES,
        # A group per topic: consumers of one group on different topics would rebalance each
        # other at every join.
        group="routing",
        description="Keeps the board (team, agent, queue, category, priority) and tells "
        "agents of assignments and escalations, managers of tickets passed around too often.",
    )
    async def on_routing(batch: Batch[Event]) -> None:
        await service.on_events(batch)

    @kit.subscriber(
        topics.sla,
        name="notifier.on_sla",
        events=SlaEvent,
        accepts=SLA_TYPES,
        group="sla",
        description="Keeps the board's SLA countdowns and tells the people of each SLA "
        "warning and breach per the escalation ladders; starts the ladder of a breach and "
        "stops it when the target is met.",
    )
    async def on_sla(batch: Batch[Event]) -> None:
        await service.on_events(batch)

    # customer.merged needs nothing here: the notifier keeps no customer ids to move (the
    # board's customer is a name, the id only as the label of a ticket opened without one,
    # and nothing is looked up by it). Erasing needs no guard: erasing twice changes nothing.
    @kit.subscriber(
        topics.customers,
        name="notifier.on_customer",
        events=CustomerEvent,
        accepts=frozenset({"customer.erased"}),
        group="customers",
        description="Erases a customer: the board rows of their tickets lose the name and "
        "the subject, and so do the notices of those tickets' deliveries and escalations; "
        "other customer text naming them is blanked.",
    )
    async def on_customer(batch: Batch[Event]) -> None:
        for delivery in batch:
            with batch.isolate(delivery):
                if isinstance(delivery.event, CustomerErased):
                    await service.erase(delivery.event)

    @kit.subscriber(
        topics.tickets,
        topics.routing,
        topics.sla,
        topics.notifications,
        topics.customers,
        name="notifier.on_live_push",
        events=LiveEvent,
        accepts=LIVE_TYPES,
        per_replica=True,
        group="push",
        description="Pushes board rows, notices and escalations to the consoles on this "
        "replica; blanks the rows of an erased customer's tickets it holds and shows.",
    )
    async def on_live_push(batch: Batch[Event]) -> None:
        await live.on_batch(batch)
