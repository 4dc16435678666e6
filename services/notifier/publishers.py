"""What the notifier publishes, one `Publisher` per kind of event (each documented in the
AsyncAPI document by the same object that publishes it)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.consuming import ConsumerKit
from shared.events import (
    EscalationAcknowledged,
    NotificationDelivered,
    NotificationFailed,
    NotificationPushed,
)
from shared.publishing import Publisher
from shared.settings import TopicSettings


@dataclass(frozen=True)
class Publishers:
    pushed: Publisher
    finished: Publisher
    delivered: Publisher
    failed: Publisher
    dead_letters: Publisher


def publishers(kit: ConsumerKit, topics: TopicSettings) -> Publishers:
    notifications = topics.notifications
    return Publishers(
        pushed=kit.publisher(
            notifications,
            NotificationPushed,
            title="notification.pushed",
            description="A notice for the consoles of the people it names (every replica).",
        ),
        finished=kit.publisher(
            notifications,
            EscalationAcknowledged,
            title="escalation.acknowledged",
            description="An escalation acknowledged, stopped or exhausted: its ladder stops.",
        ),
        delivered=kit.publisher(
            notifications,
            NotificationDelivered,
            title="notification.delivered",
            description="The audit trail: a message reached its recipient (email, webhook, "
            "a console).",
        ),
        failed=kit.publisher(
            notifications,
            NotificationFailed,
            title="notification.failed",
            description="The audit trail: a message the notifier gave up on, and why.",
        ),
        dead_letters=kit.dead_letters,
    )
