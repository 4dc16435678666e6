"""The notifier's subscribers on the consumer kit: the work done once per event in the shared
group (the ticket, routing, SLA and knowledge-base topics together; customers and insights each
in a group of their own), and live pushes on every replica (a group of its own per replica)."""

from __future__ import annotations

import operator
from functools import reduce
from typing import Annotated, Any, get_args

from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from pydantic import Field

from services.notifier.domain.insights import INSIGHT_TYPES
from services.notifier.live import Live
from services.notifier.service import NotifierService
from services.notifier.settings import NotifierSettings
from shared.consuming import Batch, ConsumerKit
from shared.events import (
    CustomerErased,
    CustomerEvent,
    Event,
    KbSuggested,
    MonthlyReportReady,
    RoutingEvent,
    SignalRaised,
    SlaEvent,
    TicketEvent,
)
from shared.events.notifications import NotificationEvent


def _types(*unions: Any) -> dict[str, type[Event]]:
    """event_type -> model, over discriminated unions."""
    found: dict[str, type[Event]] = {}
    for union in unions:
        for cls in get_args(get_args(union)[0]):
            found[cls.model_fields["event_type"].default] = cls
    return found


#: The ticket events the board or the ladders act on (the others change only ticket views).
TICKET_TYPES = frozenset({"ticket.opened", "ticket.status_changed", "ticket.priority_changed"})
#: What the ticket views record: every ticket event, and the articles suggested for a ticket
#: (the other events of the knowledge-base topic are skipped unread).
VIEW_TYPES = frozenset(_types(TicketEvent)) | {"kb.suggested"}
ROUTING_TYPES = frozenset(_types(RoutingEvent))
SLA_TYPES = frozenset(_types(SlaEvent))
SHARED_TYPES = VIEW_TYPES | ROUTING_TYPES | SLA_TYPES
#: Everything a console is told of (not the audit trail of deliveries), and erasures, which
#: blank the rows a replica holds in memory and on the consoles that show them.
LIVE_TYPES = SHARED_TYPES | {"notification.pushed", "escalation.acknowledged", "customer.erased"}
_LIVE = _types(TicketEvent, RoutingEvent, SlaEvent, NotificationEvent)
_LIVE |= {"customer.erased": CustomerErased, "kb.suggested": KbSuggested}
_INPUT = _types(TicketEvent, RoutingEvent, SlaEvent)
_INPUT["kb.suggested"] = KbSuggested
NotifierInput: Any = Annotated[
    reduce(operator.or_, (_INPUT[kind] for kind in sorted(SHARED_TYPES))),
    Field(discriminator="event_type"),
]
InsightInput = Annotated[SignalRaised | MonthlyReportReady, Field(discriminator="event_type")]
LiveEvent: Any = Annotated[
    reduce(operator.or_, (_LIVE[kind] for kind in sorted(LIVE_TYPES))),
    Field(discriminator="event_type"),
]


def register(
    kit: ConsumerKit, settings: NotifierSettings, service: NotifierService, live: Live
) -> None:
    topics = settings.topics

    # No processed-event guard: every effect is idempotent by itself. The board is a
    # projection with a version guard per group; outbox jobs and ladders are inserted under
    # ids derived from the event (a repeat is left out); a push is published again under the
    # same id, which every replica's push consumer drops; stopping a ladder is conditional.
    #
    # One subscriber for the four topics, so that a batch holds a ticket's opening, routing,
    # SLA events and suggestions together and its board row and view are written once for
    # them. The topics have the same partitions and keys (kb's suggestions are keyed by ticket
    # id), and the range assignor gives a replica the same partition numbers of each: one
    # ticket's events come to one replica.
    @kit.subscriber(
        topics.tickets,
        topics.routing,
        topics.sla,
        topics.kb,
        name="notifier.on_events",
        events=NotifierInput,
        accepts=SHARED_TYPES,
        partition_assignment_strategy=(RangePartitionAssignor,),
        description="Keeps the board (subject, customer, status; team, agent, queue, "
        "category, priority; SLA countdowns) and each ticket's view for the agents' workspace "
        "(its conversation, notes, routing and SLA history, clocks and suggested articles), "
        "tells agents of assignments and escalations "
        "and managers of tickets passed around too often, tells the people of each SLA "
        "warning and breach per the escalation ladders, and stops the ladders of a target met "
        "or a ticket resolved or closed.",
    )
    async def on_events(batch: Batch[Event]) -> None:
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
        "their tickets' views lose the texts and file names of their timelines too; other "
        "customer text naming them is blanked.",
    )
    async def on_customer(batch: Batch[Event]) -> None:
        for delivery in batch:
            with batch.isolate(delivery):
                if isinstance(delivery.event, CustomerErased):
                    await service.erase(delivery.event)

    # No guard either, for the same reasons: jobs and pushes take ids derived from the event.
    @kit.subscriber(
        topics.insights,
        name="notifier.on_insights",
        events=InsightInput,
        accepts=INSIGHT_TYPES,
        group="insights",
        description="Tells a team's lead (its manager when the team has no lead) of each sign "
        "of poor service, as a coaching notice by the channels config/notifier.yaml gives its "
        "kind; mails each manager their monthly category report, in their language.",
    )
    async def on_insights(batch: Batch[Event]) -> None:
        await service.on_insights(batch)

    @kit.subscriber(
        topics.tickets,
        topics.routing,
        topics.sla,
        topics.kb,
        topics.notifications,
        topics.customers,
        name="notifier.on_live_push",
        events=LiveEvent,
        accepts=LIVE_TYPES,
        per_replica=True,
        group="push",
        description="Pushes board rows, notices and escalations to the consoles on this "
        "replica, and tells those that may open a ticket when its view changed; blanks the "
        "rows of an erased customer's tickets it holds and shows.",
    )
    async def on_live_push(batch: Batch[Event]) -> None:
        await live.on_batch(batch)
