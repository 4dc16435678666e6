"""The SLA service's subscriber, and what runs when a deadline falls due."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import Field

from services.sla import domain
from services.sla.domain import Outcome, SlaClock
from services.sla.partitions import PartitionListener
from services.sla.settings import SlaSettings
from services.sla.state import SlaState
from services.sla.store import ClockStore
from shared.broker import consumer_options, publish_event
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


def register(broker: KafkaBroker, settings: SlaSettings, state: SlaState) -> PartitionListener:
    """Subscribe to the ticket and routing topics; the listener is returned to be stopped."""
    # Declared for the AsyncAPI document only: as a decorator it would also publish the
    # handler's return value (None, an empty message) to the sla topic for every input.
    broker.publisher(settings.topics.sla, title="sla.events", schema=SlaEvent)
    listener = PartitionListener(
        state,
        first_delay=timedelta(seconds=settings.load_retry_first_seconds),
        max_delay=timedelta(seconds=settings.load_retry_max_seconds),
    )

    @broker.subscriber(
        settings.topics.tickets,
        settings.topics.routing,
        title="sla.on_ticket",
        description="Starts, meets and tracks the SLA clocks of every routed ticket.",
        listener=listener,
        **consumer_options(settings),
    )
    async def on_ticket(event: SlaInput, msg: KafkaMessage) -> None:
        record: Any = msg.raw_message
        await handle(broker, settings, state, event, partition=record.partition)

    return listener


async def handle(
    broker: KafkaBroker, settings: SlaSettings, state: SlaState, event: Any, *, partition: int
) -> None:
    """Apply one input to its ticket's clocks, announce what changed, then mark it done."""
    async with state.lock_for(event.ticket_id):
        if await state.processed.seen(CONSUMER, event.event_id):
            return
        outcome = await _decide(state, event, partition=partition)
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
            early_resolution=await store.early_resolution(event.ticket_id),
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
        if not clocks:
            # Resolved before routing (another topic): remembered, and met when clocks start.
            resolution = domain.early_resolution(event, now)
            if resolution is None:
                await store.forget_resolution(event.ticket_id)
            else:
                await store.remember_resolution(resolution)
            return Outcome()
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
    with the same event id, which consumers drop: at least once, never lost. The ticket's lock
    keeps a reply from meeting the clock between the re-read and the save.
    """
    state.armed.pop(key, None)
    async with state.lock_for(domain.ticket_of(key)):
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
