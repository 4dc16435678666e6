"""Publishers: each declares one kind of event on one topic for the AsyncAPI document and is the
only way that event is published, keyed for its topic with its chain ids in the headers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from faststream.kafka import KafkaBroker
from prometheus_client import Counter

from shared import telemetry
from shared.events import Event

HEADER_EVENT_TYPE = "event_type"
# FastStream sets a random `correlation_id` header of its own; ours have names of their own.
HEADER_CORRELATION = "helpdesk-correlation-id"
HEADER_CAUSATION = "helpdesk-causation-id"

PUBLISHED = Counter(
    "helpdesk_events_published", "Events this process published, by topic.", ["topic"]
)


def event_headers(event: Event) -> dict[str, str]:
    headers = {HEADER_EVENT_TYPE: event.event_type}
    if event.correlation_id:
        headers[HEADER_CORRELATION] = event.correlation_id
    if event.causation_id:
        headers[HEADER_CAUSATION] = event.causation_id
    return headers


class Publisher:
    """Events of the given schema (a model or a union of models) on one topic."""

    def __init__(
        self,
        broker: KafkaBroker,
        topic: str,
        schema: Any,
        *,
        title: str,
        description: str | None = None,
    ) -> None:
        self.topic = topic
        self.title = title
        self._publisher = broker.publisher(
            topic, title=title, schema=schema, description=description
        )

    async def send(self, event: Event) -> asyncio.Future[Any] | None:
        """Hand the event to the producer; the future settles when the broker has it."""
        PUBLISHED.labels(self.topic).inc()
        if telemetry.enabled():
            # The publish's spans (and the span it is sent from) carry the event's chain.
            with telemetry.correlated(telemetry.chain_published(event)):
                sent = await self._send(event)
        else:
            sent = await self._send(event)
        # The in-memory test broker delivers at once and returns nothing to wait for.
        return sent if isinstance(sent, asyncio.Future) else None

    async def _send(self, event: Event) -> Any:
        return await self._publisher.publish(
            event.model_dump(mode="json"),
            key=event.kafka_key(),
            headers=event_headers(event),
            no_confirm=True,
        )

    async def publish(self, event: Event) -> None:
        """Publish one event and wait until the broker has it."""
        await settle([await self.send(event)])

    async def publish_all(self, events: Iterable[Event]) -> None:
        """Publish the events (in order, per key) and wait for them all together."""
        await settle([await self.send(event) for event in events])


async def settle(sent: Sequence[asyncio.Future[Any] | None]) -> None:
    """Wait for every send; the first failure is raised once all have settled."""
    pending = [future for future in sent if future is not None]
    if not pending:
        return
    results = await asyncio.gather(*pending, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
