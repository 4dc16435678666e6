"""Where the router's decisions are published: with the batch they answer, or at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.consuming import Batch
from shared.events import Event
from shared.publishing import Publisher


class PublisherOutbox:
    """Decisions the router makes on its own (timers): published at once, then waited for."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    async def send(self, events: Sequence[Event]) -> None:
        await self.publisher.publish_all(events)


class BatchOutbox:
    """Decisions answering a record of a batch: buffered with the batch, then sent together."""

    def __init__(self, batch: Batch[Any], publisher: Publisher) -> None:
        self.batch = batch
        self.publisher = publisher

    async def send(self, events: Sequence[Event]) -> None:
        for event in events:
            self.batch.publish(self.publisher, event)
        await self.batch.flush()
