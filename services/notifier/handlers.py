"""The notifier's subscribers: decisions made once (shared group), live pushes on every replica
(a consumer group per replica)."""

from __future__ import annotations

from typing import Any, get_args

from faststream.kafka import KafkaBroker
from pydantic import BaseModel, ValidationError

from services.notifier.flows import Flows
from services.notifier.live import Live
from services.notifier.settings import NotifierSettings
from shared.broker import consumer_options, publish_event
from shared.events import (
    EscalationAcknowledged,
    Event,
    NotificationDelivered,
    NotificationFailed,
    NotificationPushed,
    RoutingEvent,
    SlaEvent,
    TicketEvent,
)
from shared.events.notifications import NotificationEvent
from shared.idempotency import ProcessedEvents
from shared.logging import get_logger

log = get_logger(__name__)


def _classes(*unions: Any) -> dict[str, type[Event]]:
    """event_type -> model, over discriminated unions."""
    found: dict[str, type[Event]] = {}
    for union in unions:
        for cls in get_args(get_args(union)[0]):
            found[cls.model_fields["event_type"].default] = cls
    return found


#: Everything a console can be told of, by event type.
_LIVE = _classes(TicketEvent, RoutingEvent, SlaEvent, NotificationEvent)


def live_event(body: Any) -> Event | None:
    """The event to push, or None.

    Every replica reads every message here, so a bad one is skipped rather than dead-lettered
    once per replica: the shared-group consumers of these topics dead-letter it once.
    """
    cls = _LIVE.get(str(body.get("event_type"))) if isinstance(body, dict) else None
    if cls is None or cls in (NotificationDelivered, NotificationFailed):
        return None
    try:
        return cls.model_validate(body)
    except ValidationError as exc:
        log.warning("push.unreadable", error=str(exc)[:500])
        return None


#: How long a push consumer's fetch may wait for data: a console waits on it.
PUSH_FETCH_WAIT_MS = 50


def push_consumer_options(settings: NotifierSettings) -> dict[str, Any]:
    """Every replica reads every event in a group of its own, from the newest on, and asks the
    broker often: a broker that holds a fetch until its wait is over (instead of answering
    when data arrives) would otherwise add up to the default half second to every push."""
    options = consumer_options(
        settings, group_id=settings.push_consumer_group, auto_offset_reset="latest"
    )
    return {**options, "fetch_max_wait_ms": PUSH_FETCH_WAIT_MS}


def register(
    broker: KafkaBroker,
    settings: NotifierSettings,
    flows: Flows,
    live: Live,
    processed: ProcessedEvents,
) -> None:
    topics = settings.topics
    # Declared for the AsyncAPI docs only; events are published with `publish_event`.
    published: list[type[BaseModel]] = [
        NotificationDelivered,
        NotificationFailed,
        NotificationPushed,
        EscalationAcknowledged,
    ]
    for schema in published:
        title = schema.model_fields["event_type"].default
        broker.publisher(topics.notifications, title=title, schema=schema)

    async def once(event: Event) -> None:
        if await processed.seen("notify", event.event_id):
            return
        await flows.on_event(event)
        await processed.mark("notify", event.event_id)

    @broker.subscriber(
        topics.tickets,
        title="notifier.on_ticket",
        description="Keeps the board (subject, customer, status) and stops the escalation "
        "ladders of a ticket resolved or closed.",
        **consumer_options(settings),
    )
    async def on_ticket(event: TicketEvent) -> None:
        await once(event)

    @broker.subscriber(
        topics.routing,
        title="notifier.on_routing",
        description="Keeps the board (team, agent, queue, category, priority) and tells "
        "agents of assignments and escalations, managers of tickets passed around too often.",
        # A group per topic: consumers of one group on different topics would rebalance each
        # other at every join.
        **consumer_options(settings, group_id=f"{settings.consumer_group}.routing"),
    )
    async def on_routing(event: RoutingEvent) -> None:
        await once(event)

    @broker.subscriber(
        topics.sla,
        title="notifier.on_sla",
        description="Keeps the board's SLA countdowns and tells the people of each SLA "
        "warning and breach per the escalation ladders; starts the ladder of a breach and "
        "stops it when the target is met.",
        **consumer_options(settings, group_id=f"{settings.consumer_group}.sla"),
    )
    async def on_sla(event: SlaEvent) -> None:
        await once(event)

    @broker.subscriber(
        topics.tickets,
        topics.routing,
        topics.sla,
        topics.notifications,
        title="notifier.on_live_push",
        description="Pushes board rows, notices and escalations to the consoles on this replica.",
        **push_consumer_options(settings),
    )
    async def on_live_push(body: Any) -> None:
        event = live_event(body)
        if event is None:
            return
        if isinstance(event, NotificationPushed):
            reached = await live.on_notification(event)
            await _log_pushes(broker, settings, event, reached)
        elif isinstance(event, EscalationAcknowledged):
            await live.on_notification(event)
        else:
            await live.on_ticket_event(event)


async def _log_pushes(
    broker: KafkaBroker,
    settings: NotifierSettings,
    event: NotificationPushed,
    reached: dict[str, int],
) -> None:
    """One `notification.delivered` per person whose console on this replica took the notice."""
    replica = settings.replica_id
    for person_id, connections in reached.items():
        if not connections:
            continue
        delivered = event.caused(
            NotificationDelivered,
            f"notification:{person_id}:push:{replica}",
            recipient=person_id,
            channel="push",
            address=f"console:{replica}",
            cause_event_id=event.cause_event_id,
            attempts=1,
        )
        await publish_event(broker, settings.topics.notifications, delivered)
