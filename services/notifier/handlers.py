"""The notifier's subscribers: breach emails (shared group), live pushes (a group per replica)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from faststream.kafka import KafkaBroker
from pydantic import Field, TypeAdapter, ValidationError

from services.notifier.domain import (
    Alert,
    Recipient,
    delivery_key,
    needs_action,
    no_recipient_reason,
    push_message,
    push_recipients,
    recipients_for,
    render_email,
)
from services.notifier.email import DeliveryFailed, EmailSender, OutgoingEmail
from services.notifier.push import PushHub
from services.notifier.settings import NotifierSettings
from services.notifier.store import Delivery, DeliveryStatus, DeliveryStore
from shared.broker import PermanentError, consumer_options, publish_event
from shared.clock import Clock
from shared.directory import Directory
from shared.events import (
    Event,
    NotificationDelivered,
    NotificationFailed,
    SlaBreached,
    SlaEvent,
    SlaWarning,
    TicketAssigned,
)
from shared.events.notifications import DeliveryChannel
from shared.idempotency import ProcessedEvents
from shared.logging import get_logger

log = get_logger(__name__)


@dataclass
class NotifierState:
    """What the handlers work with; the directory is loaded at start."""

    directory: Directory | None
    processed: ProcessedEvents
    deliveries: DeliveryStore
    sender: EmailSender
    hub: PushHub
    clock: Clock

    def people(self) -> Directory:
        if self.directory is None:
            raise RuntimeError("the directory of people is not loaded; start the service first")
        return self.directory


#: What a console is told about; everything else on the two topics is skipped unparsed.
_PUSHABLE: TypeAdapter[SlaBreached | SlaWarning | TicketAssigned] = TypeAdapter(
    Annotated[SlaBreached | SlaWarning | TicketAssigned, Field(discriminator="event_type")]
)


def _pushable(body: Any) -> SlaBreached | SlaWarning | TicketAssigned | None:
    """The event to push, or None.

    Every replica reads every message here, so a bad one is skipped rather than dead-lettered
    once per replica: the shared-group consumers of these topics dead-letter it once.
    """
    if not isinstance(body, dict) or body.get("event_type") not in {
        "sla.breached",
        "sla.warning",
        "ticket.assigned",
    }:
        return None
    try:
        return _PUSHABLE.validate_python(body)
    except ValidationError as exc:
        log.warning("push.unreadable", error=str(exc)[:500])
        return None


def push_consumer_options(settings: NotifierSettings) -> dict[str, Any]:
    """Every replica reads every event in a group of its own, from the newest on."""
    return consumer_options(
        settings, group_id=settings.push_consumer_group, auto_offset_reset="latest"
    )


def _delivery(
    event: Event,
    recipient: str,
    channel: DeliveryChannel,
    *,
    at: datetime,
    status: DeliveryStatus,
    attempts: int,
    address: str | None = None,
    error: str | None = None,
    replica_id: str | None = None,
) -> Delivery:
    return Delivery(
        key=delivery_key(event.event_id, recipient, channel, replica_id),
        ticket_id=event.ticket_id,
        recipient=recipient,
        channel=channel,
        cause_event_id=str(event.event_id),
        at=at,
        status=status,
        attempts=attempts,
        address=address,
        error=error,
    )


async def _email(
    broker: KafkaBroker,
    settings: NotifierSettings,
    state: NotifierState,
    event: Alert,
    recipient: Recipient,
) -> None:
    """Email one recipient once and publish the outcome; SMTP failure is reported, not raised."""
    effect = f"notification:{recipient.person_id}:email"
    fields = {
        "recipient": recipient.person_id,
        "channel": "email",
        "address": recipient.email,
        "cause_event_id": str(event.event_id),
    }
    key = delivery_key(event.event_id, recipient.person_id, "email")
    sent = await state.deliveries.already_sent(key)
    if sent is not None:
        # Sent before a crash cut the handler short: publish the same outcome again (same id).
        delivered = event.caused(NotificationDelivered, effect, **fields, attempts=sent.attempts)
        await publish_event(broker, settings.topics.notifications, delivered)
        return
    subject, text = render_email(event, recipient)
    mail = OutgoingEmail(recipient.email, recipient.name, subject, text, key)
    now = state.clock.now()
    try:
        attempts = await state.sender.send(mail)
    except DeliveryFailed as exc:
        await state.deliveries.record(
            _delivery(
                event,
                recipient.person_id,
                "email",
                at=now,
                status="failed",
                attempts=exc.attempts,
                address=recipient.email,
                error=exc.error,
            )
        )
        failed = event.caused(
            NotificationFailed,
            f"notification.failed:{recipient.person_id}:email",
            **fields,
            attempts=exc.attempts,
            error=exc.error,
        )
        await publish_event(broker, settings.topics.notifications, failed)
        log.warning(
            "email.failed", recipient=recipient.person_id, attempts=exc.attempts, error=exc.error
        )
        return
    await state.deliveries.record(
        _delivery(
            event,
            recipient.person_id,
            "email",
            at=now,
            status="sent",
            attempts=attempts,
            address=recipient.email,
        )
    )
    delivered = event.caused(NotificationDelivered, effect, **fields, attempts=attempts)
    await publish_event(broker, settings.topics.notifications, delivered)
    log.info("email.sent", recipient=recipient.person_id, subject=subject, attempts=attempts)


async def _push(
    broker: KafkaBroker, settings: NotifierSettings, state: NotifierState, event: Event
) -> None:
    """Push to the people connected to this replica; other replicas serve their own.

    The claim is per replica: a person with consoles on two replicas hears from both, and a
    `pending` claim left by a crash binds no other replica (a restart gets a new replica id).
    """
    replica = settings.replica_id
    for person_id in push_recipients(event, state.people()):
        if not state.hub.is_connected(person_id):
            continue
        now = state.clock.now()
        pending = _delivery(
            event,
            person_id,
            "push",
            at=now,
            status="pending",
            attempts=1,
            address=f"websocket:{replica}",
            replica_id=replica,
        )
        if not await state.deliveries.claim(pending):
            continue
        reached = await state.hub.send(person_id, push_message(event))
        if not reached:
            await state.deliveries.record(
                pending.model_copy(
                    update={"status": "failed", "error": "every connection had closed"}
                )
            )
            continue
        await state.deliveries.record(pending.model_copy(update={"status": "sent"}))
        delivered = event.caused(
            NotificationDelivered,
            f"notification:{person_id}:push:{replica}",
            recipient=person_id,
            channel="push",
            address=f"websocket:{replica}",
            cause_event_id=str(event.event_id),
            attempts=1,
        )
        await publish_event(broker, settings.topics.notifications, delivered)
        log.info("push.sent", recipient=person_id, connections=reached)


def register(broker: KafkaBroker, settings: NotifierSettings, state: NotifierState) -> None:
    # Declared for the AsyncAPI docs only; events are published with `publish_event`.
    broker.publisher(
        settings.topics.notifications, title="notification.delivered", schema=NotificationDelivered
    )
    broker.publisher(
        settings.topics.notifications, title="notification.failed", schema=NotificationFailed
    )

    @broker.subscriber(
        settings.topics.sla,
        title="notifier.on_sla_email",
        description="Emails the agent or the manager once for every SLA breach, and the agent "
        "for every prompt of a policy (phone the customer).",
        **consumer_options(settings),
    )
    async def on_sla_email(event: SlaEvent) -> None:
        if not isinstance(event, SlaBreached | SlaWarning) or not needs_action(event):
            return
        if await state.processed.seen("email", event.event_id):
            return
        recipients = recipients_for(event, state.people())
        if not recipients:
            # Nobody in the directory can act on it: dead-letter it rather than drop it unseen.
            raise PermanentError(no_recipient_reason(event))
        for recipient in recipients:
            await _email(broker, settings, state, event, recipient)
        await state.processed.mark("email", event.event_id)

    @broker.subscriber(
        settings.topics.sla,
        settings.topics.routing,
        title="notifier.on_live_push",
        description="Pushes breaches, warnings and assignments to consoles on this replica.",
        **push_consumer_options(settings),
    )
    async def on_live_push(body: Any) -> None:
        event = _pushable(body)
        if event is not None:
            await _push(broker, settings, state, event)
