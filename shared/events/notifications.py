"""The notifier's topic `notifications`: the audit trail of deliveries (keyed by recipient), and
what every notifier replica must push to the consoles it holds (keyed by ticket)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field

from shared.events.envelope import Event

DeliveryChannel = Literal["email", "push", "webhook"]


class _Delivery(Event):
    topic_key: ClassVar[str] = "recipient"

    recipient: str = Field(description="Who was told (agent id, manager id, webhook name).")
    channel: DeliveryChannel = Field(description="How.")
    address: str | None = Field(default=None, description="Email address or endpoint used.")
    cause_event_id: str = Field(description="The event that was notified.")
    attempts: int = Field(default=1, ge=1, description="Tries it took.")


class NotificationDelivered(_Delivery):
    """A notification reached its recipient.

    Produced by: notifier. Consumed by: audit and reporting.
    """

    event_type: Literal["notification.delivered"] = Field(
        default="notification.delivered", description="Discriminator."
    )


class NotificationFailed(_Delivery):
    """A notification could not be delivered after its retries.

    Produced by: notifier. Consumed by: audit and operators.
    """

    event_type: Literal["notification.failed"] = Field(
        default="notification.failed", description="Discriminator."
    )
    error: str = Field(description="Why it failed.")


EscalationStatus = Literal["open", "acknowledged", "stopped", "exhausted"]


class NotificationPushed(Event):
    """A notice for people's live consoles: every notifier replica pushes it to those it holds.

    Produced by: notifier (the replica that decided who is told). Consumed by: notifier (every
    replica, in a consumer group of its own).
    """

    event_type: Literal["notification.pushed"] = Field(
        default="notification.pushed", description="Discriminator."
    )
    ticket_id: str = Field(description="The ticket it is about.")
    recipients: list[str] = Field(description="Person ids whose consoles show it.")
    kind: str = Field(description="The notice's kind, e.g. `sla_breach`, `assigned`.")
    cause_event_id: str = Field(description="The event the notice is about.")
    text: str = Field(description="One line to show.")
    escalation_id: str | None = Field(default=None, description="The ladder it is a rung of.")
    metric: str | None = Field(default=None, description="The SLA target, for a ladder.")
    level: str | None = Field(default=None, description="`breach`, `warning:90`, ...")
    rung: int = Field(default=0, ge=0, description="Rung of the ladder (0: the first).")
    rungs: int = Field(default=1, ge=1, description="Rungs the ladder has.")
    acknowledge_by: AwareDatetime | None = Field(
        default=None, description="When the next rung is told if nobody acknowledges."
    )
    status: EscalationStatus = Field(default="open", description="The ladder's state.")


class EscalationAcknowledged(Event):
    """Somebody acknowledged an escalation (or it stopped); its ladder climbs no further.

    Produced by: notifier. Consumed by: notifier (every replica updates consoles).
    """

    event_type: Literal["escalation.acknowledged"] = Field(
        default="escalation.acknowledged", description="Discriminator."
    )
    ticket_id: str = Field(description="The ticket.")
    escalation_id: str = Field(description="The escalation.")
    status: EscalationStatus = Field(description="`acknowledged`, or `stopped` when resolved.")
    acknowledged_by: str | None = Field(default=None, description="Who acknowledged it.")
    recipients: list[str] = Field(description="Everyone told about it so far.")
    reason: str = Field(description="Why it stopped, in words.")


NotificationEvent = Annotated[
    NotificationDelivered | NotificationFailed | NotificationPushed | EscalationAcknowledged,
    Field(discriminator="event_type"),
]
