"""The Kafka broker factory (FastStream over aiokafka), topic creation, what counts as a message
that can never succeed, and how a dead letter records it. Consuming and publishing are the
consumer kit's (`shared.consuming`, `shared.publishing`)."""

from __future__ import annotations

from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import REGISTRY

from shared import telemetry
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


#: The share of `stop_timeout_seconds` a stop waits for the batches in hand to finish (a
#: quarter goes to closing HTTP streams first, a quarter to committing and leaving the groups).
BATCH_SHARE_OF_STOP = 0.5


def make_broker(settings: ServiceSettings) -> KafkaBroker:
    """A broker for one service; its subscribers and publishers come from the consumer kit.

    FastStream's Prometheus middleware counts what every subscriber received (a batch counts
    its records) and what every publisher sent, in the registry `/metrics` serves, labelled
    `app_name` with the service. With tracing on, its telemetry middleware (outermost, so its
    spans hold the rest) traces each batch and each publish and carries the trace context in
    the records' headers."""
    middlewares: list[Any] = [
        KafkaPrometheusMiddleware(registry=REGISTRY, app_name=settings.service_name)
    ]
    tracing = telemetry.kafka_middleware(settings)
    if tracing is not None:
        middlewares.insert(0, tracing)
    return KafkaBroker(
        settings.kafka.bootstrap_servers,
        client_id=f"helpdesk-{settings.service_name}",
        logger=get_logger("faststream"),
        middlewares=middlewares,
        # A stop waits this long for the batches in hand; the rest of the stop's time is for
        # committing them and leaving the groups.
        graceful_timeout=settings.stop_timeout_seconds * BATCH_SHARE_OF_STOP,
    )


async def publish_event(broker: KafkaBroker, topic: str, event: Event) -> None:
    """Publish one event as the services do (keyed for its topic, its chain ids in headers),
    for a producer that is not a service: an adapter, a test, a benchmark. Services publish
    through their kit's publishers, which also document the event."""
    with telemetry.correlated(telemetry.chain_published(event)):
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
