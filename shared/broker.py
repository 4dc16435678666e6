"""The Kafka broker factory: FastStream over aiokafka, dead-lettering, per-message log context."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream import AckPolicy
from faststream._internal.middlewares import BaseMiddleware
from faststream.exceptions import HandlerException
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage

from shared.events import DeadLettered, Event
from shared.logging import bound, get_logger
from shared.settings import KafkaSettings, ServiceSettings, TopicSettings

log = get_logger(__name__)

#: Every consumer commits only after its effects; a failure it gives up on is dead-lettered.
ACK_POLICY = AckPolicy.NACK_ON_ERROR

HEADER_EVENT_TYPE = "event_type"
# FastStream sets a random `correlation_id` header of its own; ours have names of their own.
HEADER_CORRELATION = "helpdesk-correlation-id"
HEADER_CAUSATION = "helpdesk-causation-id"


def _text(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _ids_of(msg: StreamMessage[Any]) -> dict[str, Any]:
    """Pick the ids to log with from the message's headers, or its JSON body."""
    ids: dict[str, Any] = {"correlation_id": msg.headers.get(HEADER_CORRELATION)}
    try:
        body = json.loads(msg.body)
    except (ValueError, TypeError):
        return ids
    if isinstance(body, dict):
        for key in ("event_id", "ticket_id", "correlation_id", "event_type"):
            if body.get(key) is not None:
                ids[key] = body[key]
    return ids


def dead_letter_middleware(
    broker: KafkaBroker, settings: ServiceSettings
) -> Callable[..., BaseMiddleware[Any, Any]]:
    """Retry a failing message a few times, then dead-letter it with its reason.

    A message that is not even valid JSON or fails validation gets no second try: it can never
    succeed. One that FastStream cannot even parse (undecodable headers) fails before
    `consume_scope`; `after_processed` dead-letters that one. If the dead-letter publish itself
    fails the exception propagates, the offset is not committed and Kafka redelivers.
    """
    max_attempts = max(1, settings.kafka.max_attempts)

    class DeadLetterMiddleware(BaseMiddleware[Any, Any]):
        parsed = False

        async def after_processed(
            self,
            exc_type: type[BaseException] | None = None,
            exc_val: BaseException | None = None,
            exc_tb: Any = None,
        ) -> bool | None:
            if exc_val is None or self.parsed or not isinstance(exc_val, Exception):
                return False
            if isinstance(exc_val, HandlerException) or isinstance(self.msg, tuple | list):
                return False
            await publish_dead_letter(broker, settings, self.msg, exc_val, attempts=1)
            return True

        async def consume_scope(
            self, call_next: Callable[[StreamMessage[Any]], Awaitable[Any]], msg: StreamMessage[Any]
        ) -> Any:
            self.parsed = True
            if isinstance(msg.raw_message, tuple | list):
                # A batch of the consumer kit, which dead-letters record by record itself.
                return await call_next(msg)
            with bound(**_ids_of(msg)):
                attempt = 0
                while True:
                    attempt += 1
                    try:
                        return await call_next(msg)
                    except (HandlerException, asyncio.CancelledError):
                        raise
                    except Exception as exc:
                        permanent = _is_permanent(exc)
                        if permanent or attempt >= max_attempts:
                            await publish_dead_letter(
                                broker, settings, msg.raw_message, exc, attempt
                            )
                            return None
                        log.warning("message.retry", attempt=attempt, error=repr(exc))
                        await asyncio.sleep(0.2 * 2 ** (attempt - 1))

    return DeadLetterMiddleware


def is_permanent(exc: BaseException) -> bool:
    """Bad input cannot become good by retrying it."""
    from fast_depends.exceptions import ValidationError as DependsValidationError
    from pydantic import ValidationError

    return isinstance(
        exc, ValidationError | DependsValidationError | ValueError | UnicodeDecodeError
    ) or getattr(exc, "permanent", False)


_is_permanent = is_permanent


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


async def publish_dead_letter(
    broker: KafkaBroker,
    settings: ServiceSettings,
    raw: Any,
    exc: BaseException,
    attempts: int,
) -> None:
    """Publish the Kafka record `raw` whole, as text, with why it could not be processed."""
    record = raw[0] if isinstance(raw, tuple) else raw
    letter = dead_letter_of(settings, record, exc).model_copy(update={"attempts": attempts})
    await broker.publish(
        letter.model_dump(mode="json"),
        topic=settings.topics.deadletter,
        key=letter.kafka_key(),
        headers={HEADER_EVENT_TYPE: letter.event_type},
    )
    log.error(
        "message.dead_lettered",
        reason=letter.reason,
        source_topic=letter.source_topic,
        partition=letter.partition,
        offset=letter.offset,
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
    """A broker for one service, dead-lettering what its consumers cannot process."""
    broker = KafkaBroker(
        settings.kafka.bootstrap_servers,
        client_id=f"helpdesk-{settings.service_name}",
        logger=get_logger("faststream"),
    )
    broker.add_middleware(dead_letter_middleware(broker, settings))
    return broker


def consumer_options(
    settings: ServiceSettings,
    *,
    group_id: str | None = None,
    auto_offset_reset: str = "earliest",
) -> dict[str, Any]:
    """Options of a subscriber: the service's shared group unless a group of its own is given."""
    return {
        "group_id": group_id or settings.consumer_group,
        "auto_offset_reset": auto_offset_reset,
        "ack_policy": ACK_POLICY,
        "session_timeout_ms": settings.kafka.session_timeout_ms,
        "heartbeat_interval_ms": settings.kafka.heartbeat_interval_ms,
    }


async def publish_event(broker: KafkaBroker, topic: str, event: Event) -> None:
    """Publish an event keyed for its topic, with its type and chain ids in the headers."""
    headers = {HEADER_EVENT_TYPE: event.event_type}
    if event.correlation_id:
        headers[HEADER_CORRELATION] = event.correlation_id
    if event.causation_id:
        headers[HEADER_CAUSATION] = event.causation_id
    await broker.publish(
        event.model_dump(mode="json"),
        topic=topic,
        key=event.kafka_key(),
        headers=headers,
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
