"""The notifier's audit trail: topic `notifications`, keyed by recipient."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

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


NotificationEvent = Annotated[
    NotificationDelivered | NotificationFailed, Field(discriminator="event_type")
]
