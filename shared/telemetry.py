"""Traces: OpenTelemetry spans of the HTTP server, of Kafka consuming and publishing (FastStream's
middleware) and of each record the consumer kit handles, with the help desk's correlation id on
every span. Off unless `telemetry.otlp_endpoint` is set: then no provider exists, no middleware
is added, and neither OpenTelemetry's SDK nor any instrumentation is even imported (its API is,
as FastAPI itself imports it).

One trace follows a contact through the services. FastStream's middleware writes the W3C trace
context into each published record's headers. It reads a batch back as a span of its own that
only links to the records' traces, so the kit starts one span per record, a child of the span
that published it, and publishes what the handler buffered for that record inside it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.events import Event
from shared.settings import ServiceSettings

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

#: The span attribute every span carries: the id of the contact that started the chain.
CORRELATION_ATTRIBUTE = "helpdesk.correlation_id"

#: The chain being worked on in this task: set per record by the kit, per publish by the
#: publishers, read by `CorrelationIds` as each span starts.
_correlation: ContextVar[str | None] = ContextVar("helpdesk_correlation_id", default=None)


@dataclass
class _Tracing:
    """Where spans go (`exporter`: captured; None: OTLP from the settings), and the provider
    of each service of this process (tests run several services in one)."""

    exporter: SpanExporter | None = None
    providers: dict[str, TracerProvider] = field(default_factory=dict)


_exported = _Tracing()
_captured: _Tracing | None = None


def enabled() -> bool:
    """Whether any service of this process traces (a cheap check for the hot paths)."""
    return _captured is not None or bool(_exported.providers)


def tracer_provider(settings: ServiceSettings) -> TracerProvider | None:
    """The service's provider (made once per process), or None when tracing is off."""
    tracing = _captured
    if tracing is None:
        if not settings.telemetry.otlp_endpoint:
            return None
        tracing = _exported
    provider = tracing.providers.get(settings.service_name)
    if provider is None:
        provider = tracing.providers[settings.service_name] = _provider(settings, tracing.exporter)
    return provider


def tracer(settings: ServiceSettings, name: str) -> Tracer | None:
    provider = tracer_provider(settings)
    return provider.get_tracer(name) if provider is not None else None


@contextmanager
def capture(exporter: SpanExporter) -> Iterator[None]:
    """Trace every service built inside the block, whatever its settings, into `exporter`
    (tests; a debugging session), each span exported as it ends."""
    global _captured
    previous, _captured = _captured, _Tracing(exporter)
    try:
        yield
    finally:
        tracing, _captured = _captured, previous
        for provider in tracing.providers.values():
            provider.shutdown()


def shutdown() -> None:
    """Send what is buffered and forget the providers made from settings (a process ending; a
    test that configured an endpoint)."""
    providers, _exported.providers = _exported.providers, {}
    for provider in providers.values():
        provider.shutdown()


def _provider(settings: ServiceSettings, exporter: SpanExporter | None) -> TracerProvider:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    resource = Resource.create(
        {
            "service.name": f"helpdesk-{settings.service_name}",
            "service.namespace": "helpdesk",
            "service.instance.id": settings.replica_id,
        }
    )
    sampler = ParentBased(TraceIdRatioBased(settings.telemetry.sample_ratio))
    provider = TracerProvider(resource=resource, sampler=sampler)
    provider.add_span_processor(_correlation_ids())
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = (settings.telemetry.otlp_endpoint or "").rstrip("/")
        if not endpoint.endswith("/v1/traces"):
            endpoint += "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


def _correlation_ids() -> Any:
    """A span processor that puts the chain's correlation id on every span as it starts."""
    from opentelemetry.sdk.trace import SpanProcessor

    class CorrelationIds(SpanProcessor):
        def on_start(self, span: Any, parent_context: Context | None = None) -> None:
            correlation_id = _correlation.get()
            # A span started with its own (a record's) keeps it.
            if correlation_id and CORRELATION_ATTRIBUTE not in (span.attributes or {}):
                span.set_attribute(CORRELATION_ATTRIBUTE, correlation_id)

    return CorrelationIds()


# -- what the other modules call ---------------------------------------------------------------


def kafka_middleware(settings: ServiceSettings) -> Any | None:
    """FastStream's telemetry middleware for the service's broker, or None when off."""
    provider = tracer_provider(settings)
    if provider is None:
        return None
    from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
    from opentelemetry.metrics import NoOpMeterProvider

    # Metrics are Prometheus's (shared.metrics); the middleware's own would go nowhere.
    return KafkaTelemetryMiddleware(
        tracer_provider=provider,
        meter_provider=NoOpMeterProvider(),
        include_messages_counters=False,
    )


def instrument_http(app: FastAPI, settings: ServiceSettings) -> None:
    """A server span per request (not for health checks and scrapes), when tracing is on."""
    provider = tracer_provider(settings)
    if provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.metrics import NoOpMeterProvider

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        meter_provider=NoOpMeterProvider(),
        excluded_urls="/health/,/metrics",
        exclude_spans=["receive", "send"],
    )


async def flush(settings: ServiceSettings) -> None:
    """Send the spans still buffered (at stop), off the event loop."""
    tracing = _captured or _exported
    provider = tracing.providers.get(settings.service_name)
    if provider is not None:
        await asyncio.to_thread(provider.force_flush, 5_000)


@contextmanager
def correlated(correlation_id: str | None) -> Iterator[None]:
    """Spans started inside the block carry this correlation id; so does the current span if it
    has none yet (a request's span learns its chain when the request publishes its first
    event; a record's span keeps its record's)."""
    span = trace.get_current_span()
    if correlation_id and span.is_recording():
        attributes = getattr(span, "attributes", None) or {}
        if CORRELATION_ATTRIBUTE not in attributes:
            span.set_attribute(CORRELATION_ATTRIBUTE, correlation_id)
    token = _correlation.set(correlation_id)
    try:
        yield
    finally:
        _correlation.reset(token)


def set_correlation(correlation_id: str | None) -> None:
    """The chain of the batch being read (spans FastStream starts for it), until the next."""
    _correlation.set(correlation_id)


@contextmanager
def within(context: Context | None) -> Iterator[None]:
    """Work inside a record's span (None: as things are)."""
    if context is None:
        yield
        return
    token = otel.attach(context)
    try:
        yield
    finally:
        otel.detach(token)


def chain_of(event: Event) -> str:
    """The correlation id of the chain an event belongs to: a contact starts one under its
    contact id (as intake names the ticket events it causes), anything else under its own id."""
    contact_id = getattr(event, "contact_id", None)
    return event.correlation_id or (str(contact_id) if contact_id else str(event.event_id))


def chain_of_record(record: Any, header: str) -> str | None:
    """The chain a record belongs to, as `chain_of` names it: its `header`, else (a contact
    that starts one, published without it) what its body says."""
    for key, value in record.headers or ():
        if key == header:
            return bytes(value).decode("utf-8", "replace")
    try:
        body = json.loads(record.value)
    except (TypeError, ValueError):
        return None
    if not isinstance(body, dict):
        return None
    chain = body.get("correlation_id") or body.get("contact_id") or body.get("event_id")
    return str(chain) if chain else None


def chain_published(event: Event) -> str:
    """The chain an event is published in: its own, else (an event that names none, like the
    notifier's pushes) that of the record being handled, else the one it starts."""
    if event.correlation_id:
        return event.correlation_id
    handling = otel.get_value(_CHAIN)
    return str(handling) if handling else chain_of(event)


def mark_batch(events: Sequence[Event]) -> None:
    """Put the batch's chains on its span (the one FastStream's middleware holds): the first
    as the correlation id, all of them (up to 100) when there are several."""
    span = trace.get_current_span()
    if not events or not span.is_recording():
        return
    chains = list(dict.fromkeys(chain_of(e) for e in events))
    span.set_attribute(CORRELATION_ATTRIBUTE, chains[0])
    if len(chains) > 1:
        span.set_attribute("helpdesk.correlation_ids", chains[:100])


def record_context(
    tracer_: Tracer, event: Event, record: Any, *, subscriber: str, group: str
) -> Context:
    """A started span for one consumed record, a child of the span that published it (from the
    record's `traceparent`) and linked to the batch's span; returned as a context to work in."""
    carrier = {
        k: bytes(v).decode("utf-8", "replace")
        for k, v in record.headers or ()
        if k in _TRACE_HEADERS
    }
    parent = _PROPAGATOR.extract(carrier)
    batch = trace.get_current_span().get_span_context()
    span = tracer_.start_span(
        f"{subscriber} {event.event_type}",
        context=parent,
        kind=SpanKind.CONSUMER,
        links=[Link(batch)] if batch.is_valid else None,
        attributes={
            CORRELATION_ATTRIBUTE: chain_of(event),
            "helpdesk.event_type": event.event_type,
            "helpdesk.event_id": str(event.event_id),
            "helpdesk.ticket_id": event.ticket_id or "",
            "messaging.system": "kafka",
            "messaging.destination.name": record.topic,
            "messaging.consumer.group.name": group,
            "messaging.kafka.destination.partition": record.partition,
            "messaging.kafka.message.offset": record.offset,
        },
    )
    return otel.set_value(_CHAIN, chain_of(event), trace.set_span_in_context(span, parent))


def end_record(context: Context, error: BaseException | None = None) -> None:
    """End a record's span; a record set aside for the dead-letter topic ends in error."""
    span = trace.get_current_span(context)
    if error is not None:
        span.set_attribute("helpdesk.dead_lettered", True)
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, type(error).__name__))
    span.end()


_PROPAGATOR = TraceContextTextMapPropagator()
_TRACE_HEADERS = frozenset({"traceparent", "tracestate"})
#: Where a record's context keeps its chain, for what is published inside it.
_CHAIN = "helpdesk.chain"
