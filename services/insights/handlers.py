"""The insights service's subscribers on the consumer kit: every ticket, routing and SLA event
into the ticket's facts, and erasures."""

from __future__ import annotations

from typing import Any

from aiokafka.coordinator.assignors.range import RangePartitionAssignor

from services.insights.domain.fold import ACTED_ON, FactInput
from services.insights.outlets import Outlets
from services.insights.service import InsightsService
from shared.consuming import Batch, ConsumerKit
from shared.events import CustomerEvent, InsightsEvent, TicketCsatReceived
from shared.settings import ServiceSettings


def outlets(kit: ConsumerKit, settings: ServiceSettings) -> Outlets:
    return Outlets(
        insights=kit.publisher(
            settings.topics.insights,
            InsightsEvent,
            title="insights.events",
            description="Surveys offered, signs of poor service raised, monthly reports ready.",
        ),
        tickets=kit.publisher(
            settings.topics.tickets,
            TicketCsatReceived,
            title="insights.csat_received",
            description="A customer's answer to a satisfaction survey.",
        ),
    )


def register(kit: ConsumerKit, settings: ServiceSettings, insights: InsightsService) -> None:
    topics = settings.topics

    @kit.subscriber(
        topics.tickets,
        topics.routing,
        topics.sla,
        name="insights.facts",
        events=FactInput,
        accepts=ACTED_ON,
        description="Folds every ticket, routing and SLA event into its ticket's fact record.",
        # No processed-event guard: each fact remembers the ids of the events applied to it
        # (saved with it, in the same write), so a redelivered one changes nothing.
        # The three topics are keyed by ticket id with the same partition count; the range
        # assignor gives a replica the same partition numbers of each, so one ticket's facts
        # are folded by one replica.
        partition_assignment_strategy=(RangePartitionAssignor,),
    )
    async def on_event(batch: Batch[Any]) -> None:
        await insights.take(batch)

    @kit.subscriber(
        topics.customers,
        name="insights.erasure",
        events=CustomerEvent,
        accepts=frozenset({"customer.erased"}),
        group="customers",
        description="Drops an erased customer's id from their tickets' facts.",
    )
    async def on_customer(batch: Batch[Any]) -> None:
        # No guard: blanking an id twice changes nothing. Only erasures: a fact keeps the
        # customer id the ticket was opened with, and merges change no report.
        for delivery in batch:
            with batch.isolate(delivery):
                await insights.erase(delivery.event)
