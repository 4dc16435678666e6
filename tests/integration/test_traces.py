"""Traces on the real broker and database: a contact submitted to intake's HTTP API is one trace
through intake, the router, the SLA service, the notifier and the knowledge base, and every span
of it carries the contact's correlation id. Spans are captured in memory."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from aiokafka.structs import ConsumerRecord
from faststream.kafka import TestKafkaBroker
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY

from devstack.stack import StackEndpoints, free_port
from services.intake.app import build_app as build_intake
from services.intake.auth import sign_request
from services.intake.settings import IntakeSettings
from services.kb.app import build_app as build_kb
from services.kb.settings import KbSettings
from services.notifier.app import build_app as build_notifier
from services.notifier.settings import NotifierSettings
from services.router.app import build_app as build_router
from services.router.settings import RouterSettings
from services.sla.app import build_app as build_sla
from services.sla.settings import SlaSettings
from shared import telemetry
from shared.broker import ensure_topics, make_broker
from shared.consuming import Batch, ConsumerKit
from shared.events import TicketEvent, TicketNoteAdded
from shared.idempotency import MemoryGuard
from shared.runtime import Service
from shared.settings import KafkaSettings, ServiceSettings, TelemetrySettings
from tests.conftest import eventually, serving_smtp

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

ADAPTER_SECRET = "adapter-secret-for-the-trace-test-0123456789"
SERVICES = ("intake", "router", "sla", "notifier", "kb")
CONTACT = {
    "contact_id": "chat-trace-1",
    "message": {
        "channel": "chat",
        "chat_user_id": "u-trace",
        "conversation_id": "conv-trace",
        "text": "I forgot my password and cannot log in to the portal",
    },
}


class Quiet:
    """Takes the notifier's mail and keeps nothing."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


def kafka_for(stack: StackEndpoints) -> KafkaSettings:
    """Each subscriber joins its group in turn as a service starts, and the local broker takes
    half the session timeout for a join: a short one starts five services in seconds. Apache
    Kafka refuses one under 6 s."""
    local = os.environ.get("HELPDESK_TEST_BACKEND", "local") == "local"
    return KafkaSettings(
        bootstrap_servers=stack.bootstrap_servers,
        session_timeout_ms=2_000 if local else 6_000,
        heartbeat_interval_ms=300 if local else 500,
    )


def service_of(span: ReadableSpan) -> str:
    return str(span.resource.attributes["service.name"]).removeprefix("helpdesk-")


def in_trace(spans: Sequence[ReadableSpan], trace_id: int) -> list[ReadableSpan]:
    return [s for s in spans if s.context is not None and s.context.trace_id == trace_id]


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.span_id


def parent_id(span: ReadableSpan) -> int:
    assert span.parent is not None, span.name
    return span.parent.span_id


async def test_a_contact_is_one_trace_across_the_services(
    make_settings: Any, stack: StackEndpoints
) -> None:
    exporter = InMemorySpanExporter()
    kafka = kafka_for(stack)
    with serving_smtp(Quiet()) as smtp_port, telemetry.capture(exporter):
        services: dict[str, Service] = {
            "intake": build_intake(
                make_settings(
                    IntakeSettings, kafka=kafka, adapter_secrets={"gateway": ADAPTER_SECRET}
                )
            ),
            "router": build_router(make_settings(RouterSettings, kafka=kafka)),
            "sla": build_sla(make_settings(SlaSettings, kafka=kafka)),
            "notifier": build_notifier(
                make_settings(NotifierSettings, kafka=kafka, smtp_port=smtp_port)
            ),
            "kb": build_kb(make_settings(KbSettings, kafka=kafka)),
        }
        first = services["intake"].settings
        await ensure_topics(first.kafka, first.topics)
        await asyncio.gather(*(s.start(create_topics=False) for s in services.values()))
        try:
            raw = json.dumps(CONTACT).encode()
            headers = sign_request(ADAPTER_SECRET, raw, int(time.time()), adapter="gateway")
            headers["Content-Type"] = "application/json"
            transport = httpx.ASGITransport(app=services["intake"].http)
            async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
                accepted = await client.post("/contacts", content=raw, headers=headers)
            assert accepted.status_code == 202, accepted.text
            # The chain of a contact is named after the contact.
            chain = accepted.json()["contact_id"]
            [request] = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
            assert request.context is not None
            trace_id = request.context.trace_id

            def reached_everyone() -> bool:
                handled = {
                    service_of(s)
                    for s in in_trace(exporter.get_finished_spans(), trace_id)
                    if s.kind is SpanKind.CONSUMER
                }
                return handled >= set(SERVICES)

            await eventually(reached_everyone, timeout=20)
        finally:
            await asyncio.gather(*(s.stop() for s in services.values()))

    spans = in_trace(exporter.get_finished_spans(), trace_id)
    # Every span names the contact's chain: the notifier's pushes and deliveries carry the
    # correlation id of the event they tell about.
    named = [
        (
            s.name,
            attributes(s).get(telemetry.CORRELATION_ATTRIBUTE),
            attributes(s).get("helpdesk.event_id"),
        )
        for s in spans
    ]
    odd = [n for n in named if n[1] != chain]
    assert not odd, odd
    assert sum(c == chain for _, c, _ in named) >= 10, named
    by_id = {span_id(s): s for s in spans}
    handled = {s.name: s for s in spans if s.kind is SpanKind.CONSUMER}
    # Each service's span of a record is a child of the span that published the record, so
    # the chain reads back from the notifier and kb through the others to the request.
    opened = handled["router.on_ticket ticket.opened"]
    assert service_of(by_id[parent_id(opened)]) == "intake"
    assert by_id[parent_id(opened)].kind is SpanKind.PRODUCER
    taken = handled["intake.on_contact contact.received"]
    assert len(taken.links) == 1  # to the span FastStream holds for the record's batch
    assert _ancestors(taken, by_id)[-1] is request
    assert _ancestors(opened, by_id)[-1] is request
    for name in ("sla.on_ticket ticket.opened", "kb.on_ticket ticket.opened"):
        assert name in handled, sorted(handled)
        assert taken in _ancestors(handled[name], by_id)
    notified = [s for s in handled.values() if service_of(s) == "notifier"]
    assert notified and all(_ancestors(s, by_id)[-1] is request for s in notified)
    # The kit keeps the lag of the partitions each batch came from: all taken by now.
    where = {
        "group": "helpdesk-router",
        "topic": first.topics.tickets,
        "partition": str(attributes(opened)["messaging.kafka.destination.partition"]),
    }
    assert REGISTRY.get_sample_value("helpdesk_consumer_lag", where) == 0


async def test_each_record_of_a_batch_is_handled_and_publishes_in_a_span_of_its_own() -> None:
    """Two chains in one batch (fed to the kit in memory): each record's span keeps its own
    chain, whatever the batch's first record says, and what the handler publishes for a record
    is sent inside that record's span."""
    exporter = InMemorySpanExporter()
    with telemetry.capture(exporter):
        settings = ServiceSettings(service_name="kittest")
        broker = make_broker(settings)
        kit = ConsumerKit(broker, settings, MemoryGuard())
        out = kit.publisher("out", TicketNoteAdded, title="out")

        @kit.subscriber("notes", name="kittest.on_note", events=TicketEvent, description="test")
        async def echo(batch: Batch[Any]) -> None:
            for delivery in batch:
                with batch.isolate(delivery):
                    echoed = delivery.event.caused(TicketNoteAdded, "echo", agent_id="a", body="x")
                    batch.publish(out, echoed)

        notes = [
            TicketNoteAdded(ticket_id=f"t-{c}", agent_id="a", body="hi", correlation_id=c)
            for c in ("chain-a", "chain-b")
        ]
        batch = [
            ConsumerRecord("notes", 0, n, 0, 0, b"k", raw, None, 1, len(raw), [])
            for n, raw in enumerate(note.model_dump_json().encode() for note in notes)
        ]
        async with TestKafkaBroker(broker):
            # The batch's chain is its first record's, as the kit's parser reads it for the
            # spans FastStream starts before the kit has parsed anything.
            telemetry.set_correlation("chain-a")
            await kit.consume(kit.subscriptions["kittest.on_note"], batch)
    spans = exporter.get_finished_spans()
    handled = {
        attributes(s)["helpdesk.event_id"]: s for s in spans if s.name.startswith("kittest.")
    }
    chains = [attributes(handled[str(n.event_id)])[telemetry.CORRELATION_ATTRIBUTE] for n in notes]
    assert chains == ["chain-a", "chain-b"]
    published = [s for s in spans if s.name == "out create" and s.kind is SpanKind.PRODUCER]
    assert sorted(
        (attributes(s)[telemetry.CORRELATION_ATTRIBUTE], parent_id(s)) for s in published
    ) == sorted((n.correlation_id, span_id(handled[str(n.event_id)])) for n in notes)


def test_tracing_is_off_by_default_and_costs_nothing() -> None:
    """Without an endpoint no provider exists and no middleware is added; the services are
    built without importing OpenTelemetry's SDK or FastStream's telemetry at all."""
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from services.router.app import build_app\n"
        "from services.router.settings import RouterSettings\n"
        "from shared import telemetry\n"
        "service = build_app(RouterSettings(config_dir=Path('config'), environment='local'))\n"
        "kinds = [type(m).__name__ for m in service.broker.middlewares]\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('opentelemetry.sdk',"
        " 'faststream.opentelemetry', 'opentelemetry.instrumentation')))\n"
        "print(kinds, loaded, telemetry.enabled())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "['KafkaPrometheusMiddleware'] [] False"


def _ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[ReadableSpan]:
    """The span's parents up to the trace's root, nearest first (all of them in the trace)."""
    chain = []
    while span.parent is not None:
        span = by_id[span.parent.span_id]
        chain.append(span)
    return chain


class Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP collector that keeps the path and body of every export."""

    received: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_with_an_endpoint_spans_go_to_the_collector_over_otlp() -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    port = free_port()
    server = HTTPServer(("127.0.0.1", port), Collector)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    settings = ServiceSettings(
        service_name="otlptest",
        telemetry=TelemetrySettings(otlp_endpoint=f"http://127.0.0.1:{port}"),
    )
    try:
        assert type(telemetry.kafka_middleware(settings)).__name__ == "KafkaTelemetryMiddleware"
        tracer = telemetry.tracer(settings, "test")
        assert tracer is not None
        with telemetry.correlated("chain-x"), tracer.start_as_current_span("work"):
            pass
        telemetry.shutdown()  # flushes the batch of spans
    finally:
        server.shutdown()
        serving.join(timeout=5)
    [(path, body)] = Collector.received
    assert path == "/v1/traces"
    sent = ExportTraceServiceRequest.FromString(body)
    [resource] = sent.resource_spans
    service = {a.key: a.value.string_value for a in resource.resource.attributes}
    assert service["service.name"] == "helpdesk-otlptest"
    [span] = [s for scope in resource.scope_spans for s in scope.spans]
    assert span.name == "work"
    assert {a.key: a.value.string_value for a in span.attributes} == {
        telemetry.CORRELATION_ATTRIBUTE: "chain-x"
    }
    assert telemetry.tracer_provider(ServiceSettings(service_name="otlptest")) is None
