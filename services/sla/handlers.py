"""The SLA service's subscriber, its partition listener and what runs when a deadline falls due."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Annotated, Any

from aiokafka import ConsumerRebalanceListener, TopicPartition
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import Field

from services.sla import domain
from services.sla.domain import Outcome, SlaClock, SlaPolicies
from services.sla.settings import SlaSettings
from services.sla.store import ClockStore
from services.sla.timer import Timer
from shared.broker import consumer_options, publish_event
from shared.clock import Clock
from shared.events import (
    SlaEvent,
    TicketAgentReplied,
    TicketAssigned,
    TicketContactAppended,
    TicketCsatReceived,
    TicketEscalated,
    TicketNoteAdded,
    TicketOpened,
    TicketPriorityChanged,
    TicketRouted,
    TicketStatusChanged,
    TicketTransferred,
)
from shared.idempotency import ProcessedEvents
from shared.logging import bound, get_logger

log = get_logger(__name__)

CONSUMER = "sla"

#: Everything on the tickets and routing topics, which this one subscriber reads together.
SlaInput = Annotated[
    TicketOpened
    | TicketContactAppended
    | TicketAgentReplied
    | TicketNoteAdded
    | TicketStatusChanged
    | TicketPriorityChanged
    | TicketCsatReceived
    | TicketRouted
    | TicketAssigned
    | TicketTransferred
    | TicketEscalated,
    Field(discriminator="event_type"),
]


@dataclass
class SlaState:
    """What the handlers work with: policies, stored clocks and the in-memory deadlines."""

    policies: SlaPolicies
    store: ClockStore
    processed: ProcessedEvents
    timer: Timer
    clock: Clock
    #: Partition of each armed deadline, so a revoked partition's deadlines can be dropped.
    armed: dict[str, int | None] = field(default_factory=dict)
    #: Partition numbers this replica owns; None until Kafka first assigns any (in-memory broker).
    owned: set[int] | None = None

    def owns(self, partition: int | None) -> bool:
        return self.owned is None or partition is None or partition in self.owned

    def arm(self, clock: SlaClock) -> None:
        if clock.status == "running" and self.owns(clock.partition):
            self.timer.schedule(clock.key, clock.due_at)
            self.armed[clock.key] = clock.partition
        else:
            self.disarm(clock.key)

    def disarm(self, key: str) -> None:
        self.timer.cancel(key)
        self.armed.pop(key, None)


class PartitionListener(ConsumerRebalanceListener):
    """Loads the running clocks of assigned partitions into the timer; drops revoked ones.

    The tickets and routing topics have the same partition count and are both keyed by ticket
    id, so the range assignor gives this replica the same partition numbers of each: the
    numbers alone say which clocks are ours.
    """

    def __init__(self, state: SlaState, *, attempts: int = 5) -> None:
        self._state = state
        self._attempts = attempts

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        partitions = {tp.partition for tp in revoked}
        dropped = [key for key, p in self._state.armed.items() if p in partitions]
        for key in dropped:
            self._state.disarm(key)
        if self._state.owned is not None:
            self._state.owned -= partitions
        log.info("sla.partitions_revoked", partitions=sorted(partitions), dropped=len(dropped))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        partitions = {tp.partition for tp in assigned}
        self._state.owned = set(partitions)
        for attempt in range(1, self._attempts + 1):
            try:
                clocks = await self._state.store.running_in(partitions)
                break
            except Exception as exc:
                log.warning("sla.load_failed", attempt=attempt, error=repr(exc))
                if attempt == self._attempts:
                    raise
                await asyncio.sleep(0.2 * attempt)
        for clock in clocks:
            self._state.arm(clock)
        log.info("sla.partitions_assigned", partitions=sorted(partitions), loaded=len(clocks))


def register(broker: KafkaBroker, settings: SlaSettings, state: SlaState) -> None:
    # Declared for the AsyncAPI document only: as a decorator it would also publish the
    # handler's return value (None, an empty message) to the sla topic for every input.
    broker.publisher(settings.topics.sla, title="sla.events", schema=SlaEvent)

    @broker.subscriber(
        settings.topics.tickets,
        settings.topics.routing,
        title="sla.on_ticket",
        description="Starts, meets and tracks the SLA clocks of every routed ticket.",
        listener=PartitionListener(state),
        **consumer_options(settings),
    )
    async def on_ticket(event: SlaInput, msg: KafkaMessage) -> None:
        if await state.processed.seen(CONSUMER, event.event_id):
            return
        record: Any = msg.raw_message
        outcome = await _decide(state, event, partition=record.partition)
        for clock in outcome.clocks:
            state.arm(clock)
        for sla_event in outcome.events:
            await publish_event(broker, settings.topics.sla, sla_event)
            log.info("sla.emitted", emitted=sla_event.event_type, metric=_metric(sla_event))
        await state.processed.mark(CONSUMER, event.event_id)


async def _decide(state: SlaState, event: Any, *, partition: int) -> Outcome:
    """Apply one input to the ticket's stored clocks and keep what changed."""
    now = state.clock.now()
    store = state.store
    if isinstance(event, TicketRouted):
        outcome = domain.start_clocks(
            event,
            state.policies.policy_for(event.priority),
            now,
            partition=partition,
            existing=await store.for_ticket(event.ticket_id),
            early_reply=await store.early_reply(event.ticket_id),
        )
        for clock in outcome.clocks:
            await store.insert(clock)
        return outcome
    if isinstance(event, TicketAgentReplied):
        clocks = await store.for_ticket(event.ticket_id)
        if not any(c.metric == "first_response" for c in clocks):
            await store.remember_reply(domain.early_reply(event, now))
            return Outcome()
        return await _save(store, domain.reply(clocks, event, now))
    if isinstance(event, TicketStatusChanged):
        clocks = await store.for_ticket(event.ticket_id)
        return await _save(store, domain.status_changed(clocks, event, now))
    if isinstance(event, TicketAssigned):
        clocks = await store.for_ticket(event.ticket_id)
        return await _save(store, domain.assign(clocks, event))
    return Outcome()


async def _save(store: ClockStore, outcome: Outcome) -> Outcome:
    """Store changed clocks; a clock another writer closed first emits nothing from here."""
    saved: list[SlaClock] = []
    lost: set[str] = set()
    for clock in outcome.clocks:
        if await store.save_if_running(clock):
            saved.append(clock)
        else:
            lost.add(clock.metric)
    events = [e for e in outcome.events if _metric(e) not in lost]
    return Outcome(saved, events)


def _metric(event: Any) -> str | None:
    return getattr(event, "metric", None)


async def fire_deadline(
    broker: KafkaBroker, settings: SlaSettings, state: SlaState, key: str
) -> None:
    """A deadline fell due: re-read the clock, publish the breach, then close the clock.

    Publishing before closing means a crash in between fires the deadline again after restart,
    with the same event id, which consumers drop: at least once, never lost.
    """
    state.armed.pop(key, None)
    clock = await state.store.get(key)
    if clock is None or clock.status != "running" or not state.owns(clock.partition):
        return
    with bound(ticket_id=clock.ticket_id, correlation_id=clock.correlation_id):
        outcome = domain.breach(clock, state.clock.now())
        if not outcome.events:
            state.arm(clock)
            return
        breached = outcome.events[0]
        await publish_event(broker, settings.topics.sla, breached)
        await state.store.save_if_running(outcome.clocks[0])
        log.info(
            "sla.breached",
            metric=clock.metric,
            event_id=str(breached.event_id),
            late_by_seconds=getattr(breached, "late_by_seconds", None),
        )
