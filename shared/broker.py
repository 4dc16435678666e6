"""The Kafka broker factory (FastStream over aiokafka), topic creation, what counts as a message
that can never succeed, and how a dead letter records it. Consuming and publishing are the
consumer kit's (`shared.consuming`, `shared.publishing`)."""

from __future__ import annotations

from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker

from shared.events import DeadLettered, Event
from shared.logging import get_logger
from shared.publishing import HEADER_CORRELATION, event_headers
from shared.settings import KafkaSettings, ServiceSettings, TopicSettings


def _text(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def is_permanent(exc: BaseException) -> bool:
    """Bad input cannot become good by retrying it."""
    from fast_depends.exceptions import ValidationError as DependsValidationError
    from pydantic import ValidationError

    return isinstance(
        exc, ValidationError | DependsValidationError | ValueError | UnicodeDecodeError
    ) or getattr(exc, "permanent", False)


class PermanentError(Exception):
    """Processing failed in a way no retry can fix (for example, a reference to nothing)."""

    permanent = True


def dead_letter_of(
    settings: ServiceSettings, record: Any, exc: BaseException, *, group: str | None = None
) -> DeadLettered:
    """The Kafka record `record` whole, as text, with why it could not be processed."""
    key = _text(getattr(record, "key", None))
    headers = {k: _text(v) or "" for k, v in (getattr(record, "headers", None) or ())}
    return DeadLettered(
        service=settings.service_name,
        consumer_group=group or settings.consumer_group,
        reason=_reason(exc),
        error_type=type(exc).__name__,
        source_topic=str(getattr(record, "topic", None) or "unknown"),
        partition=getattr(record, "partition", None),
        offset=getattr(record, "offset", None),
        original_key=key,
        original_value=_text(getattr(record, "value", None)) or "",
        original_headers=headers,
        attempts=1 if is_permanent(exc) else max(1, settings.kafka.max_attempts),
        correlation_id=headers.get(HEADER_CORRELATION),
    )


def _reason(exc: BaseException) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'message'}: {err['msg']}"
            for err in exc.errors()[:10]
        )
        return f"invalid message: {problems}"
    return f"{type(exc).__name__}: {exc}"[:2000]


def make_broker(settings: ServiceSettings) -> KafkaBroker:
    """A broker for one service; its subscribers and publishers come from the consumer kit."""
    return KafkaBroker(
        settings.kafka.bootstrap_servers,
        client_id=f"helpdesk-{settings.service_name}",
        logger=get_logger("faststream"),
    )


async def publish_event(broker: KafkaBroker, topic: str, event: Event) -> None:
    """Publish one event as the services do (keyed for its topic, its chain ids in headers),
    for a producer that is not a service: an adapter, a test, a benchmark. Services publish
    through their kit's publishers, which also document the event."""
    await broker.publish(
        event.model_dump(mode="json"),
        topic=topic,
        key=event.kafka_key(),
        headers=event_headers(event),
    )


async def ensure_topics(kafka: KafkaSettings, topics: TopicSettings) -> None:
    """Create the help desk's topics if they are missing; existing ones are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, kafka.partitions, kafka.replication_factor)
            for name in topics.all()
            if name not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()
