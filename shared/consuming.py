"""The consumer kit: every subscriber of every service consumes through it.

A subscriber takes a batch of records per poll (FastStream's batch subscriber; order is kept
per partition, so per key) and works through it in five steps:

1. every record is parsed into its event; one that cannot be is set aside for the dead-letter
   topic with its reason, and types the subscriber does not act on are skipped unparsed;
2. the processed-event guard is asked once for the whole batch, and repeats are dropped;
3. the handler gets the fresh events as a `Batch`: it reads what it needs in bulk, decides
   per record (`Batch.isolate`: a record that fails for good is dead-lettered alone), writes
   in bulk and buffers its publishes, which are sent together and awaited together;
4. dead letters are published, then the batch's events are marked processed in one write;
5. only then does FastStream commit the offsets.

Along the way it keeps the operator's view current: each dead letter is counted
(`helpdesk_dead_letters_total`), each batch updates its partitions' lag
(`helpdesk_consumer_lag`, from offsets the consumer already holds: no request to the broker),
and with tracing on each fresh record gets a span of its own, in which what the handler
published for it is sent (`shared.telemetry`).

A failure that may pass (a lost race, a bug in one record) retries the batch a few times,
then splits it to find the record that fails and dead-letters only that one. A database or
broker out of reach never dead-letters anything: the batch waits and is tried again, and if
it still fails the offsets stay where they were and Kafka redelivers it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Annotated, Any, Generic, TypeVar

from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import TypeAdapter, WithJsonSchema
from pymongo.errors import ConnectionFailure

from shared import telemetry
from shared.broker import dead_letter_of, is_permanent
from shared.events import DeadLettered, Event
from shared.idempotency import Guard
from shared.logging import bound, get_logger
from shared.metrics import DEAD_LETTERS, LagOfAssigned, note_lag
from shared.publishing import HEADER_CORRELATION, Publisher, settle
from shared.settings import ServiceSettings

log = get_logger(__name__)

E = TypeVar("E", bound=Event)
Handler = Callable[["Batch[E]"], Awaitable[None]]
#: Told of each record a subscriber dead-lettered, with its event if it could be parsed.
OnDeadLetter = Callable[[Any, Event | None], None]

#: Errors that say the database or the broker is out of reach: never the record's fault.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    ConnectionFailure,
    KafkaConnectionError,
    KafkaTimeoutError,
    NodeNotReadyError,
)
#: Tries of a batch while the database or broker is away, before Kafka is left to redeliver.
UNAVAILABLE_TRIES = 12

_current: ContextVar[Delivery[Any] | None] = ContextVar("delivery", default=None)


@dataclass(frozen=True, slots=True)
class Delivery(Generic[E]):
    """One record of a batch: its event, and where in Kafka it came from."""

    event: E
    topic: str
    partition: int
    offset: int
    key: bytes | None
    record: Any = field(repr=False, compare=False)
    #: The record's span, as a context to work in (tracing on only).
    trace: Any = field(default=None, repr=False, compare=False)


class Batch(Generic[E]):
    """The fresh records of one poll, what the handler publishes, and what failed."""

    def __init__(self, deliveries: Sequence[Delivery[E]], *, max_attempts: int = 3) -> None:
        self.deliveries = list(deliveries)
        self.max_attempts = max_attempts
        self.failed: list[tuple[Delivery[E], BaseException]] = []
        self._outgoing: list[tuple[Publisher, Event, Delivery[E] | None]] = []
        self._causes: dict[str, Any] | None = None

    def __iter__(self) -> Iterator[Delivery[E]]:
        return iter(self.deliveries)

    def __len__(self) -> int:
        return len(self.deliveries)

    @property
    def events(self) -> list[E]:
        return [d.event for d in self.deliveries]

    @property
    def outgoing(self) -> list[tuple[Publisher, Event]]:
        """What the handler has buffered and not yet sent, in order."""
        return [(publisher, event) for publisher, event, _ in self._outgoing]

    def publish(self, publisher: Publisher, event: Event) -> None:
        """Buffer an event; the batch's events are sent together (see `flush`)."""
        self._outgoing.append((publisher, event, _current.get()))

    async def flush(self) -> None:
        """Send every buffered event now, in order, and wait for them all together. A handler
        that must publish before it writes (so a crash decides again and re-publishes the same
        ids) calls this between the two; the kit flushes what is left after the handler."""
        outgoing, self._outgoing = self._outgoing, []
        sent = []
        for publisher, event, delivery in outgoing:
            context = self._trace_of(event, delivery)
            if context is None:
                sent.append(await publisher.send(event))
                continue
            with telemetry.within(context):
                sent.append(await publisher.send(event))
        await settle(sent)

    def _trace_of(self, event: Event, delivery: Delivery[E] | None) -> Any:
        """The span an event is published in: its record's, or (buffered for the batch as a
        whole) that of the record that caused it; None when tracing is off."""
        if delivery is not None:
            return delivery.trace
        if not self.deliveries or self.deliveries[0].trace is None:
            return None
        if self._causes is None:
            self._causes = {str(d.event.event_id): d.trace for d in self.deliveries}
        return self._causes.get(event.causation_id or "")

    @contextmanager
    def isolate(self, delivery: Delivery[E]) -> Iterator[None]:
        """Work on one record: if it fails for good, it alone is dead-lettered (with what it
        buffered dropped) and the batch carries on. Other errors go up to the kit."""
        token = _current.set(delivery)
        event = delivery.event
        try:
            with bound(
                event_id=str(event.event_id),
                ticket_id=event.ticket_id,
                correlation_id=event.correlation_id,
            ):
                if delivery.trace is None:
                    yield
                else:
                    with telemetry.within(delivery.trace):
                        yield
        except Exception as exc:
            if not is_permanent(exc):
                raise
            self.fail(delivery, exc)
        finally:
            _current.reset(token)

    def fail(self, delivery: Delivery[E], exc: BaseException) -> None:
        """Set a record aside for the dead-letter topic, dropping what it buffered."""
        self._drop(delivery)
        self.failed.append((delivery, exc))

    def _drop(self, delivery: Delivery[E]) -> None:
        self._outgoing = [o for o in self._outgoing if o[2] is not delivery]

    async def each(
        self, work: Callable[[Delivery[E]], Awaitable[None]], *, concurrency: int = 16
    ) -> None:
        """Run `work` on every record: records of one key in order, keys side by side. A record
        that keeps failing (`max_attempts` tries) is dead-lettered alone."""
        groups: dict[tuple[str, int, bytes | None], list[Delivery[E]]] = {}
        for delivery in self.deliveries:
            groups.setdefault((delivery.topic, delivery.partition, delivery.key), []).append(
                delivery
            )
        gate = asyncio.Semaphore(concurrency)

        async def run(group: list[Delivery[E]]) -> None:
            async with gate:
                for delivery in group:
                    await self._one(work, delivery)

        await asyncio.gather(*(run(group) for group in groups.values()))

    async def _one(self, work: Callable[[Delivery[E]], Awaitable[None]], item: Delivery[E]) -> None:
        for attempt in range(1, self.max_attempts + 1):
            try:
                with self.isolate(item):
                    await work(item)
                return
            except UNAVAILABLE:
                raise
            except Exception as exc:
                if attempt == self.max_attempts:
                    self.fail(item, exc)
                    return
                self._drop(item)
                log.warning("record.retry", attempt=attempt, error=repr(exc))
                await asyncio.sleep(0.2 * 2 ** (attempt - 1))


@dataclass(frozen=True)
class Subscription(Generic[E]):
    """What one subscriber consumes and how (built by `ConsumerKit.subscriber`)."""

    name: str
    adapter: TypeAdapter[Any]
    handler: Handler[E]
    accepts: frozenset[str] | None
    guard: str | None
    per_replica: bool
    group: str
    on_dead_letter: OnDeadLetter | None = None


def _lenient_headers(record: Any) -> Any:
    """A record whose header values all decode as UTF-8 (FastStream's parser requires it)."""
    headers = [(k, v.decode("utf-8", "replace").encode()) for k, v in record.headers or ()]
    return replace(record, headers=headers) if headers != list(record.headers or ()) else record


async def _parse_leniently(message: Any, original: Callable[[Any], Awaitable[Any]]) -> Any:
    if telemetry.enabled() and message:
        # Read before FastStream starts the batch's spans, so they carry its chain.
        telemetry.set_correlation(telemetry.chain_of_record(message[0], HEADER_CORRELATION))
    return await original(tuple(_lenient_headers(r) for r in message))


async def _values(message: Any, original: Callable[[Any], Awaitable[Any]]) -> Any:
    # The kit parses each record itself, so one bad record cannot fail its whole batch.
    return [record.value for record in message.raw_message]


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema with its `$defs` references written out in place (the schema FastStream
    documents a subscriber with cannot carry definitions of its own)."""
    defs = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    inlined: dict[str, Any] = resolve(schema)
    return inlined


class ConsumerKit:
    """Subscribers and publishers of one service, on its broker, settings and guard."""

    def __init__(self, broker: KafkaBroker, settings: ServiceSettings, guard: Guard) -> None:
        self.broker = broker
        self.settings = settings
        self.guard = guard
        #: Every subscription by name, for tests that feed a batch to one directly.
        self.subscriptions: dict[str, Subscription[Any]] = {}
        #: The subscriptions whose consumer has joined its group (with partitions or none).
        self.joined: set[str] = set()
        #: Spans of each record handled, when tracing is on.
        self._tracer = telemetry.tracer(settings, __name__)
        self.dead_letters = self.publisher(
            settings.topics.deadletter,
            DeadLettered,
            title="deadletter",
            description="Records this service could not process, with the reason.",
        )

    def unjoined(self) -> list[str]:
        """The subscriptions whose consumer has not joined its group yet (not ready)."""
        return sorted(set(self.subscriptions) - self.joined)

    def publisher(
        self, topic: str, schema: Any, *, title: str, description: str | None = None
    ) -> Publisher:
        return Publisher(self.broker, topic, schema, title=title, description=description)

    def subscriber(
        self,
        *topics: str,
        name: str,
        events: Any,
        description: str,
        accepts: frozenset[str] | None = None,
        group: str | None = None,
        per_replica: bool = False,
        guard: str | None = None,
        on_dead_letter: OnDeadLetter | None = None,
        **options: Any,
    ) -> Callable[[Handler[E]], Handler[E]]:
        """Register `handler` for batches of `events` (a model or a union) from `topics`.

        `accepts`: the event types acted on; others are skipped unparsed. `group`: a group of
        its own (a suffix of the service's), as a subscriber of other topics needs so they do
        not rebalance each other. `per_replica`: every replica reads every event from the
        newest on (state each replica holds); nothing is guarded or dead-lettered there, since
        the shared-group consumers of the same topics dead-letter it once. `guard`: the name
        under which processed events are recorded and repeats dropped. `on_dead_letter`: told
        of each record dead-lettered (a service counting its own outcomes).
        """
        kafka = self.settings.kafka
        adapter: TypeAdapter[Any] = TypeAdapter(events)
        schema = {"type": "array", "items": _inlined(adapter.json_schema())}

        group_id = (
            self.settings.group(group or name, per_replica=True)
            if per_replica
            else self.settings.group(group)
        )

        def register(handler: Handler[E]) -> Handler[E]:
            spec: Subscription[E] = Subscription(
                name,
                adapter,
                handler,
                accepts,
                None if per_replica else guard,
                per_replica,
                group_id,
                on_dead_letter,
            )
            self.subscriptions[name] = spec

            async def consume(payloads: list[Any], message: KafkaMessage) -> None:
                await self.consume(spec, message.raw_message)
                note_lag(group_id, message.consumer, message.raw_message)

            consume.__name__ = name.replace(".", "_")
            # Resolved here rather than from the module's text: the AsyncAPI document shows
            # the events this subscriber takes, while the kit parses each record itself.
            consume.__annotations__ = {
                "payloads": Annotated[list[Any], WithJsonSchema(schema)],
                "message": KafkaMessage,
                "return": None,
            }
            self.broker.subscriber(
                *topics,
                batch=True,
                max_records=kafka.max_batch,
                batch_timeout_ms=kafka.batch_timeout_ms,
                fetch_max_wait_ms=kafka.fetch_max_wait_ms,
                group_id=group_id,
                auto_offset_reset="latest" if per_replica else "earliest",
                ack_policy=AckPolicy.NACK_ON_ERROR,
                session_timeout_ms=kafka.session_timeout_ms,
                heartbeat_interval_ms=kafka.heartbeat_interval_ms,
                parser=_parse_leniently,
                decoder=_values,
                title=name,
                description=description,
                listener=LagOfAssigned(
                    group_id,
                    options.pop("listener", None),
                    on_joined=partial(self.joined.add, name),
                ),
                **options,
            )(consume)
            return handler

        return register

    # -- one batch ------------------------------------------------------------------------------

    async def consume(self, spec: Subscription[E], records: Sequence[Any]) -> None:
        """Parse, guard, handle, dead-letter and mark one batch; the offsets follow."""
        deliveries, letters = self._parse(spec, records)
        fresh = await self._fresh(spec, deliveries)
        if self._tracer is not None:
            telemetry.mark_batch([d.event for d in deliveries])
            fresh = [self._traced(spec, d) for d in fresh]
        batch: Batch[E] = Batch(fresh, max_attempts=self.settings.kafka.max_attempts)
        try:
            if fresh:
                await self._run(spec, batch)
            failed = [(d.record, exc) for d, exc in batch.failed]
            if spec.per_replica:
                for _, exc in [*letters, *failed]:
                    log.warning("record.skipped", subscriber=spec.name, error=repr(exc)[:500])
            else:
                await self._dead_letter(spec, [*letters, *failed])
                if spec.on_dead_letter is not None:
                    for record, _ in letters:
                        spec.on_dead_letter(record, None)
                    for delivery, _ in batch.failed:
                        spec.on_dead_letter(delivery.record, delivery.event)
            if spec.guard and fresh:
                await self.guard.mark_many(spec.guard, [str(d.event.event_id) for d in fresh])
        finally:
            if self._tracer is not None:
                errors = {id(d): exc for d, exc in batch.failed}
                for delivery in fresh:
                    telemetry.end_record(delivery.trace, errors.get(id(delivery)))
            if telemetry.enabled():
                telemetry.set_correlation(None)

    def _traced(self, spec: Subscription[E], delivery: Delivery[E]) -> Delivery[E]:
        """The delivery with a span of its own, a child of the span that published it."""
        assert self._tracer is not None
        context = telemetry.record_context(
            self._tracer,
            delivery.event,
            delivery.record,
            subscriber=spec.name,
            group=spec.group,
        )
        return replace(delivery, trace=context)

    def _parse(
        self, spec: Subscription[E], records: Sequence[Any]
    ) -> tuple[list[Delivery[E]], list[tuple[Any, BaseException]]]:
        deliveries: list[Delivery[E]] = []
        letters: list[tuple[Any, BaseException]] = []
        for record in records:
            try:
                if record.value is None:
                    raise ValueError("the record has no value")
                body = json.loads(record.value)
                kind = body.get("event_type") if isinstance(body, dict) else None
                if spec.accepts is not None and kind not in spec.accepts:
                    continue
                event = spec.adapter.validate_python(body)
            except Exception as exc:
                letters.append((record, exc))
                continue
            deliveries.append(
                Delivery(event, record.topic, record.partition, record.offset, record.key, record)
            )
        return deliveries, letters

    async def _fresh(
        self, spec: Subscription[E], deliveries: list[Delivery[E]]
    ) -> list[Delivery[E]]:
        """The deliveries not processed before, nor repeated earlier in the batch."""
        unique: dict[str, Delivery[E]] = {}
        for delivery in deliveries:
            unique.setdefault(str(delivery.event.event_id), delivery)
        if spec.guard and unique:
            for event_id in await self.guard.seen_many(spec.guard, list(unique)):
                unique.pop(event_id, None)
        return list(unique.values())

    async def _run(self, spec: Subscription[E], batch: Batch[E]) -> None:
        """The handler on the batch until it succeeds; then what it left buffered is sent."""
        attempt = away = 0
        while True:
            batch.failed.clear()
            batch._outgoing.clear()
            try:
                await spec.handler(batch)
                await batch.flush()
                return
            except asyncio.CancelledError:
                raise
            except UNAVAILABLE as exc:
                away += 1
                if away >= UNAVAILABLE_TRIES:
                    raise
                wait = min(0.1 * 2**away, self.settings.kafka.retry_backoff_max_ms / 1000)
                log.warning("batch.unavailable", subscriber=spec.name, error=repr(exc), wait=wait)
                await asyncio.sleep(wait)
            except Exception as exc:
                attempt += 1
                if len(batch) > 1 and (is_permanent(exc) or attempt >= batch.max_attempts):
                    await self._split(spec, batch)
                    return
                if len(batch) == 1 and (is_permanent(exc) or attempt >= batch.max_attempts):
                    batch.fail(batch.deliveries[0], exc)
                    return
                log.warning(
                    "batch.retry", subscriber=spec.name, attempt=attempt, error=repr(exc)[:500]
                )
                await asyncio.sleep(0.2 * 2 ** (attempt - 1))

    async def _split(self, spec: Subscription[E], batch: Batch[E]) -> None:
        """Handle the records one at a time, so only the one that fails is dead-lettered."""
        log.warning("batch.split", subscriber=spec.name, size=len(batch))
        failed: list[tuple[Delivery[E], BaseException]] = []
        for delivery in batch.deliveries:
            single: Batch[E] = Batch([delivery], max_attempts=batch.max_attempts)
            await self._run(spec, single)
            failed.extend(single.failed)
        batch.failed[:] = failed

    async def _dead_letter(
        self, spec: Subscription[E], letters: Sequence[tuple[Any, BaseException]]
    ) -> None:
        if not letters:
            return
        out = [dead_letter_of(self.settings, r, exc, group=spec.group) for r, exc in letters]
        await self.dead_letters.publish_all(out)
        for letter in out:
            DEAD_LETTERS.labels(letter.service, letter.source_topic, letter.error_type).inc()
            log.error(
                "message.dead_lettered",
                reason=letter.reason,
                source_topic=letter.source_topic,
                partition=letter.partition,
                offset=letter.offset,
            )
