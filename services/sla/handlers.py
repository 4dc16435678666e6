"""The SLA service's subscriber, and what runs when a deadline falls due."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Annotated, Any

from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import Field

from services.sla import announce, transitions
from services.sla.domain import Decision, Rules, TicketSla, recompute
from services.sla.partitions import PartitionListener
from services.sla.settings import SlaSettings
from services.sla.state import SlaState
from shared.broker import PermanentError, consumer_options, publish_event
from shared.events import (
    Event,
    SlaEvent,
    TicketAgentReplied,
    TicketAssigned,
    TicketContactAppended,
    TicketCsatReceived,
    TicketEscalated,
    TicketEscalationRequested,
    TicketNoteAdded,
    TicketOpened,
    TicketPriorityChanged,
    TicketQueued,
    TicketRouted,
    TicketStatusChanged,
    TicketTransferred,
    TicketTransferRequested,
    TicketTransfersExceeded,
)
from shared.logging import bound, get_logger

log = get_logger(__name__)

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
    | TicketEscalated
    | TicketQueued
    | TicketTransfersExceeded
    | TicketEscalationRequested
    | TicketTransferRequested,
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
        # Both topics are keyed by ticket id with the same partition count; the range
        # assignor gives a replica the same partition numbers of each (aiokafka's default,
        # round robin, would split one ticket's two topics across replicas).
        partition_assignment_strategy=(RangePartitionAssignor,),
        **consumer_options(settings),
    )
    async def on_ticket(event: SlaInput, msg: KafkaMessage) -> None:
        record: Any = msg.raw_message
        await handle(broker, settings, state, event, partition=record.partition)

    return listener


#: Inputs that change nothing the SLA measures: skipped without reading the ticket.
IGNORED = (
    TicketNoteAdded,
    TicketCsatReceived,
    TicketEscalated,
    TicketQueued,
    TicketTransfersExceeded,
    TicketEscalationRequested,
    TicketTransferRequested,
)
#: Input ids a ticket remembers: more than Kafka redelivers after a crash (one poll's worth
#: per ticket, and a ticket has few inputs in flight at once).
APPLIED_KEPT = 32
#: How often one input is re-decided when another replica saved the ticket first.
SAVE_ATTEMPTS = 5


async def handle(
    broker: KafkaBroker, settings: SlaSettings, state: SlaState, event: Any, *, partition: int
) -> None:
    """Apply one input to its ticket, announce what changed, and save it.

    Events go out before the ticket is saved: a crash in between decides again on the old
    state after redelivery and publishes the same events with the same ids, which consumers
    drop. Saving first could lose them. The saved ticket remembers the input's id among its
    latest ones, so a redelivery after the save is skipped without another database call.
    """
    if isinstance(event, IGNORED):
        return
    event_id = str(event.event_id)
    async with state.lock_for(event.ticket_id):
        await state.settled(event.ticket_id)
        for _ in range(SAVE_ATTEMPTS):
            stored = await state.store.get(event.ticket_id)
            ticket, revision = stored or (
                TicketSla(ticket_id=event.ticket_id, partition=partition),
                None,
            )
            if event_id in ticket.applied:
                return
            now = state.clock.now()
            decision = _decide(ticket, event, state.rules, now, partition)
            if decision.ticket == ticket and not decision.notes:
                return
            applied = (*decision.ticket.applied, event_id)[-APPLIED_KEPT:]
            decision = replace(
                decision, ticket=decision.ticket.model_copy(update={"applied": applied})
            )
            if await _commit(broker, settings, state, ticket, revision, decision, event, now):
                return
        raise RuntimeError(f"ticket {event.ticket_id} kept changing under this replica")


def _decide(ticket: TicketSla, event: Any, rules: Rules, now: datetime, partition: int) -> Decision:
    """Bring a ticket stored under older policies up to date, then apply the input.

    The recomputation has the ids the timer would give it (`transitions.advance`), so a
    ticket brought up to date by both announces it once.
    """
    if ticket.started and ticket.state != "done" and ticket.version != rules.version:
        effect = f"{ticket.ticket_id}:{rules.version}:recomputed"
        ticket, notes = recompute(ticket, rules, now, "SLA policies or calendars changed", effect)
        decision = _apply(ticket, event, rules, now, partition)
        return Decision(decision.ticket, notes + decision.notes, decision.finished)
    return _apply(ticket, event, rules, now, partition)


def _apply(ticket: TicketSla, event: Any, rules: Rules, now: datetime, partition: int) -> Decision:
    if isinstance(event, TicketRouted):
        return transitions.routed(ticket, event, rules, now, partition)
    if isinstance(event, TicketOpened):
        return transitions.opened(ticket, event, rules, now)
    if isinstance(event, TicketAgentReplied):
        return transitions.agent_replied(ticket, event, rules, now)
    if isinstance(event, TicketContactAppended):
        return transitions.customer_wrote(ticket, event, rules, now)
    if isinstance(event, TicketStatusChanged):
        return transitions.status_changed(ticket, event, rules, now)
    if isinstance(event, TicketPriorityChanged):
        return transitions.priority_changed(ticket, event, rules, now)
    if isinstance(event, TicketAssigned):
        return transitions.assigned(ticket, event, rules, now)
    if isinstance(event, TicketTransferred):
        return transitions.transferred(ticket, event, rules, now)
    raise PermanentError(f"the SLA service cannot handle {type(event).__name__}")


async def _commit(
    broker: KafkaBroker,
    settings: SlaSettings,
    state: SlaState,
    ticket: TicketSla,
    revision: int | None,
    decision: Decision,
    cause: Event | None,
    now: datetime,
) -> bool:
    """Publish, record and save one decision; False if another replica saved first."""
    with bound(ticket_id=ticket.ticket_id, correlation_id=ticket.correlation_id):
        for sla_event in announce.events_of(decision, state.rules, cause, now):
            await publish_event(broker, settings.topics.sla, sla_event)
            log.info(
                "sla.emitted",
                emitted=sla_event.event_type,
                metric=getattr(sla_event, "metric", None),
                colour=getattr(sla_event, "colour", None),
            )
        # The events are out: recording and saving must finish even if this firing is cut
        # off by its timeout, or the retry would decide on the old state and publish again.
        saving = asyncio.ensure_future(_persist(state, ticket, revision, decision))
        state.persisting[ticket.ticket_id] = saving
        saving.add_done_callback(lambda done: _forget(state, ticket.ticket_id, done))
        return await asyncio.shield(saving)


async def _persist(
    state: SlaState, ticket: TicketSla, revision: int | None, decision: Decision
) -> bool:
    await state.store.record(decision.finished)
    if not await state.store.save(decision.ticket, revision, before=ticket):
        log.warning("sla.save_conflict", ticket_id=ticket.ticket_id, revision=revision)
        return False
    state.saved(decision.ticket, (revision or 0) + 1)
    state.arm(decision.ticket)
    return True


def _forget(state: SlaState, ticket_id: str, done: asyncio.Future[bool]) -> None:
    if state.persisting.get(ticket_id) is done:
        del state.persisting[ticket_id]


async def fire_ticket(
    broker: KafkaBroker, settings: SlaSettings, state: SlaState, ticket_id: str
) -> None:
    """A ticket's next moment is near: read it now, announce what falls due at the moment.

    The timer calls this `read_ahead` before the moment, so the database read is done by the
    time it comes and the event goes out on the second. Until then the handlers keep the copy
    current (`SlaState.saved`); the ticket's lock keeps a reply from meeting a clock while its
    breach is being decided.
    """
    state.armed.pop(ticket_id, None)
    # Another firing of this ticket may be waiting too: its copy is kept, not cleared.
    state.ahead.setdefault(ticket_id, None)
    try:
        stored = await state.store.get(ticket_id)
        if stored is None:
            return
        if state.ahead.get(ticket_id) is None:
            state.ahead[ticket_id] = stored
        ticket = stored[0]
        if ticket.next_at is not None:
            wait = (ticket.next_at - state.clock.now()).total_seconds()
            if wait > state.read_ahead.total_seconds() + 1:
                # The timer's entry was older than the ticket (a moment moved later): wait
                # in the heap for the real one rather than in a task.
                state.arm(ticket)
                return
            await asyncio.sleep(max(0.0, wait))
        async with state.lock_for(ticket_id):
            await state.settled(ticket_id)
            # No copy left means another firing of the ticket ended first: read it afresh.
            current = state.ahead.get(ticket_id) or await state.store.get(ticket_id)
            await _fire(broker, settings, state, ticket_id, current)
    finally:
        state.ahead.pop(ticket_id, None)


async def _fire(
    broker: KafkaBroker,
    settings: SlaSettings,
    state: SlaState,
    ticket_id: str,
    stored: tuple[TicketSla, int] | None,
) -> None:
    for _ in range(SAVE_ATTEMPTS):
        if stored is None:
            return
        ticket, revision = stored
        if not state.owns(ticket.partition):
            return
        now = state.clock.now()
        decision = transitions.advance(ticket, state.rules, now)
        if decision.ticket == ticket and not decision.notes:
            state.arm(ticket)
            return
        if await _commit(broker, settings, state, ticket, revision, decision, None, now):
            return
        stored = await state.store.get(ticket_id)
    raise RuntimeError(f"ticket {ticket_id} kept changing under this replica")
