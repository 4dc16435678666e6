"""The SLA service's subscriber on the consumer kit: the tickets and routing topics together."""

from __future__ import annotations

from typing import Any

from aiokafka.coordinator.assignors.range import RangePartitionAssignor

from services.sla.domain.inputs import ACTED_ON, SlaInput
from services.sla.partitions import PartitionListener
from services.sla.service import SlaService
from shared.consuming import Batch, ConsumerKit
from shared.events import SlaEvent
from shared.publishing import Publisher
from shared.settings import ServiceSettings


def sla_publisher(kit: ConsumerKit, settings: ServiceSettings) -> Publisher:
    return kit.publisher(
        settings.topics.sla,
        SlaEvent,
        title="sla.events",
        description="Clocks started, paused, resumed and recomputed; warnings, breaches, met.",
    )


def register(
    kit: ConsumerKit, settings: ServiceSettings, sla: SlaService, listener: PartitionListener
) -> None:
    @kit.subscriber(
        settings.topics.tickets,
        settings.topics.routing,
        name="sla.on_ticket",
        events=SlaInput,
        accepts=ACTED_ON,
        description="Starts, meets and tracks the SLA clocks of every routed ticket.",
        # No processed-event guard: each ticket remembers the ids of the inputs applied to it
        # (saved with it, in the same write), and a redelivered one is skipped.
        listener=listener,
        # Both topics are keyed by ticket id with the same partition count; the range
        # assignor gives a replica the same partition numbers of each (aiokafka's default,
        # round robin, would split one ticket's two topics across replicas).
        partition_assignment_strategy=(RangePartitionAssignor,),
    )
    async def on_ticket(batch: Batch[Any]) -> None:
        await sla.take(batch)
