"""The operator's metrics: each service counts its outcomes where it decides them (driven through
its subscribers and use cases on in-memory stores), the consumer kit keeps the lag and counts
dead letters, `/metrics` serves FastStream's metrics beside the help desk's, and with
`PROMETHEUS_MULTIPROC_DIR` it serves the sum of the worker processes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaBroker, TestKafkaBroker
from prometheus_client import REGISTRY
from pymongo import AsyncMongoClient

from services.intake.config import load_rules
from services.intake.handlers import register as register_intake
from services.intake.mailbox import Mailbox
from services.intake.service import IntakeService
from services.intake.settings import IntakeSettings
from services.intake.store_memory import MemoryIntakeStore
from services.notifier.push import PushHub
from services.sla.service import SlaService
from services.sla.state import SlaState
from services.sla.store_memory import MemorySlaStore
from services.sla.timer import DeadlineHeap
from shared.access import access_for
from shared.agent_tokens import AgentTokens
from shared.broker import make_broker
from shared.clock import FakeClock
from shared.consuming import Batch, ConsumerKit
from shared.directory import load_directory
from shared.events import (
    ContactReceived,
    TicketEscalationRequested,
    TicketEvent,
    TicketNoteAdded,
    TicketRouted,
    TicketStatusChanged,
)
from shared.idempotency import MemoryGuard
from shared.language import LanguageDetector
from shared.metrics import LagOfAssigned, note_lag
from shared.runtime import Service, new_http_app
from shared.settings import ServiceSettings
from tests.conftest import eventually
from tests.unit.sla_desk import RecordingPublisher, take
from tests.unit.test_kb_service import Desk as KbDesk
from tests.unit.test_notifier_delivery_loop import FlakyStore, offered, running
from tests.unit.test_router_service import NOON, Replica, Store, opened

ROOT = Path(__file__).resolve().parents[2]
SECRET = "metrics-tests-secret-of-32-bytes-or-more!"
OPERATOR = "ops-rin"  # config/teams.yaml


def value(name: str, **labels: str) -> float:
    """A sample of the default registry (what `/metrics` serves); 0 when it has none yet."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def total(name: str) -> float:
    """A counter's samples added up over every label set."""
    return sum(
        sample.value
        for family in REGISTRY.collect()
        for sample in family.samples
        if sample.name == name
    )


class Counts:
    """Samples read before and after: each test sees only what it did itself."""

    def __init__(self, *series: tuple[str, dict[str, str]]) -> None:
        self.series = series
        self.before = [value(name, **labels) for name, labels in series]

    def delta(self) -> list[float]:
        return [
            round(value(name, **labels) - before, 6)
            for (name, labels), before in zip(self.series, self.before, strict=True)
        ]


def record(topic: str, value_: Any, offset: int, partition: int = 0) -> ConsumerRecord[Any, Any]:
    raw = value_ if isinstance(value_, bytes) else json.dumps(value_).encode()
    return ConsumerRecord(topic, partition, offset, 0, 0, b"k", raw, None, 1, len(raw), [])


# -- intake ----------------------------------------------------------------------------------


class English:
    def detect(self, text: str) -> str | None:
        return "en"


def contact(contact_id: str, **message: Any) -> dict[str, Any]:
    event = ContactReceived(
        contact_id=contact_id,
        message={"channel": "email", "from_address": "ana@example.com", **message},
    )
    return event.model_dump(mode="json")


async def test_intake_counts_each_contact_by_channel_and_outcome() -> None:
    settings = IntakeSettings(config_dir=ROOT / "config", service_name="intake")
    rules = load_rules(ROOT / "config")
    broker = KafkaBroker()
    kit = ConsumerKit(broker, settings, MemoryGuard())
    tickets = kit.publisher(settings.topics.tickets, TicketEvent, title="tickets")
    customers = kit.publisher(settings.topics.customers, dict, title="customers")
    store, guard = MemoryIntakeStore(), MemoryGuard()
    kit.guard = guard  # one guard, as the service has: intake reads what the kit marks
    detector = cast(LanguageDetector, English())
    intake = IntakeService(store, rules, detector, settings, tickets, guard, customers)
    register_intake(kit, settings, intake)
    spec = kit.subscriptions["intake.on_contact"]
    topic = settings.topics.contacts
    counts = Counts(
        *(
            ("helpdesk_contacts_total", {"channel": channel, "outcome": outcome})
            for channel, outcome in [
                ("email", "ticket"),
                ("email", "joined"),
                ("email", "suppressed"),
                ("email", "dead_lettered"),
                ("chat", "dead_lettered"),
                ("unknown", "dead_lettered"),
            ]
        ),
        (
            "helpdesk_dead_letters_total",
            {"service": "intake", "topic": topic, "reason_type": "JSONDecodeError"},
        ),
    )
    first = contact("mail-1", subject="Wifi", body="It drops", message_id="<m1@mail.example>")
    reply = contact("mail-2", subject="Re: Wifi", body="Still", in_reply_to="<m1@mail.example>")
    again = {**first, "event_id": str(uuid.uuid4())}  # the same mail, submitted twice
    empty = contact("mail-3", subject=" ", body="")
    half_a_chat = {"event_type": "contact.received", "message": {"channel": "chat"}}
    async with TestKafkaBroker(broker):
        await kit.consume(spec, [record(topic, first, 0), record(topic, reply, 1)])
        await kit.consume(
            spec,
            [
                record(topic, again, 2),
                record(topic, {**again, "event_id": str(uuid.uuid4())}, 3),
                record(topic, empty, 4),
                record(topic, b"{ not json", 5),
                record(topic, half_a_chat, 6),
            ],
        )
        # Automatic mail never becomes a contact event: it is suppressed at the door.
        mailbox = Mailbox(store, rules, publish=lambda contact: asyncio.sleep(0))
        away = (
            b"From: Ana <ana@example.com>\r\nTo: support@helpdesk.example\r\n"
            b"Subject: Out of office\r\nAuto-Submitted: auto-replied\r\n"
            b"Message-ID: <away-1@mail.example>\r\n\r\nI am away until Monday.\r\n"
        )
        await mailbox.submit(away, source="test")

    assert counts.delta() == [1, 1, 3, 1, 1, 1, 1]


# -- router ----------------------------------------------------------------------------------


async def test_router_counts_decisions_and_times_each_first_assignment() -> None:
    counts = Counts(
        *(
            ("helpdesk_routing_decisions_total", {"outcome": outcome})
            for outcome in ("assigned", "queued", "transferred", "escalated")
        ),
        ("helpdesk_time_to_assignment_seconds_count", {}),
        ("helpdesk_time_to_assignment_seconds_sum", {}),
        ("helpdesk_time_to_assignment_seconds_bucket", {"le": "60.0"}),
        ("helpdesk_time_to_assignment_seconds_bucket", {"le": "120.0"}),
    )
    replica = Replica(Store())
    # ag-maria (technical L1) holds 3 chats: the fourth waits in the queue. Each was opened
    # 90 s before the router (its clock at NOON) takes it.
    await replica.feed(
        *(opened(f"chat-{n}", occurred_at=NOON - timedelta(seconds=90)) for n in range(4))
    )
    assert counts.delta() == [3, 1, 0, 0, 3, 270, 0, 3]

    # Resolving one frees a slot: the queued ticket gets its first agent from the queue.
    await replica.feed(TicketStatusChanged(ticket_id="chat-0", status="resolved"))
    assert counts.delta()[:5] == [4, 1, 0, 0, 4]

    # Escalated a tier up: the ticket moves to the L2 agents (a transfer) and is placed again;
    # its new agent is not its first, so no time to assignment is taken.
    await replica.feed(
        TicketEscalationRequested(ticket_id="chat-1", agent_id="ag-maria", reason="needs L2")
    )
    assigned, queued, transferred, escalated, timed = counts.delta()[:5]
    assert (transferred, escalated, timed) == (1, 1, 4)
    assert assigned + queued == 6


# -- sla -------------------------------------------------------------------------------------


async def test_sla_keeps_its_armed_deadlines_and_counts_what_they_fire(tmp_path: Path) -> None:
    from devstack.sla_config import write_fast_sla
    from services.sla.config import load_config

    rules = load_config(write_fast_sla(tmp_path, first_response="PT1H", resolution="PT8H"))
    start = FakeClock().now()
    clock = FakeClock(start)
    state = SlaState(rules=rules, store=MemorySlaStore(), timer=DeadlineHeap(), clock=clock)
    publisher = RecordingPublisher()
    service = SlaService(state, publisher)
    lateness = "helpdesk_sla_firing_lateness_seconds_bucket"
    counts = Counts(
        ("helpdesk_sla_deadlines_armed", {}),
        ("helpdesk_sla_warnings_total", {"target": "first_response"}),
        ("helpdesk_sla_breaches_total", {"target": "first_response"}),
        ("helpdesk_sla_firing_lateness_seconds_count", {}),
        (lateness, {"le": "0.001"}),
        (lateness, {"le": "0.005"}),
        (lateness, {"le": "0.1"}),
        (lateness, {"le": "0.25"}),
    )
    routed = TicketRouted(
        ticket_id="t-1",
        category="network",
        impact="medium",
        urgency="high",
        priority="P2",
        tier="L1",
        team="technical",
        reason="wifi",
        occurred_at=start,
    )
    try:
        await take(service, routed)
        assert counts.delta()[:4] == [1, 0, 0, 0]  # armed; nothing fired yet

        # Each moment fires late by what the clock says past it: 250 ms, then 3 ms.
        fired: list[str] = []
        for late in (0.25, 0.003):
            stored = await state.store.load(["t-1"])
            due = stored["t-1"].ticket.next_at
            assert due is not None
            clock.set(due + timedelta(seconds=late))
            sent = len(publisher.events)
            await service.fire("t-1")
            fired += [e.event_type for e in publisher.events[sent:]]
        assert fired[0] == "sla.warning"
        delta = counts.delta()
        assert delta[0] == 1  # fired, then armed again for its next moment
        assert delta[3] == 2 and delta[4:] == [0, 1, 1, 2]
        assert delta[1] + delta[2] == len(fired) >= 2
        # Resolved: its clocks stop and nothing is armed for it any more.
        await take(service, TicketStatusChanged(ticket_id="t-1", status="resolved"))
        assert counts.delta()[0] == 0
    finally:
        await service.stop()


# -- notifier --------------------------------------------------------------------------------


class ChatTool:
    """Answers `ok-*` calls, fails `flaky-*` once, and refuses `dead-*` for good."""

    def __init__(self) -> None:
        self.tries: dict[str, int] = {}

    async def send(self, target: Any, body: bytes, *, delivery_key: str, now: float) -> None:
        from services.notifier.webhooks import WebhookFailure

        tries = self.tries[delivery_key] = self.tries.get(delivery_key, 0) + 1
        if delivery_key.startswith("dead"):
            raise WebhookFailure("410 gone", permanent=True, status=410)
        if delivery_key.startswith("flaky") and tries == 1:
            raise WebhookFailure("503 busy", permanent=False, status=503)


class Console:
    def __init__(self, *, gone: bool = False) -> None:
        self.gone = gone

    async def send_text(self, data: str) -> None:
        if self.gone:
            raise ConnectionError("the console went away")


async def test_notifier_counts_deliveries_by_channel_and_outcome() -> None:
    counts = Counts(
        *(
            ("helpdesk_deliveries_total", {"channel": "webhook", "outcome": outcome})
            for outcome in ("sent", "retried", "failed")
        ),
        ("helpdesk_delivery_retries_total", {"channel": "webhook"}),
        ("helpdesk_deliveries_total", {"channel": "push", "outcome": "sent"}),
        ("helpdesk_deliveries_total", {"channel": "push", "outcome": "dropped"}),
        (
            "helpdesk_dead_letters_total",
            {
                "service": "notifier",
                "topic": "helpdesk.notifications.v1",
                "reason_type": "DeliveryFailed",
            },
        ),
    )
    store, chat = FlakyStore(), cast(Any, ChatTool())
    deliveries = await running(
        store, chat, service_name="notifier", retry_base_seconds=0.01, retry_cap_seconds=0.02
    )
    try:
        await offered(store, deliveries, ["ok-1", "ok-2", "flaky-1", "dead-1"])
        await eventually(
            lambda: all(j.status in ("sent", "failed") for j in store.jobs_by_key.values()),
            timeout=5,
        )
    finally:
        await deliveries.stop()
    hub = PushHub()
    hub.add("ag-maria", Console())
    hub.add("ag-maria", Console(gone=True))
    await hub.send("ag-maria", "hello")
    # The job given up on is dead-lettered too, under the notifications topic.
    assert counts.delta() == [3, 1, 1, 1, 1, 1, 1]


# -- kb --------------------------------------------------------------------------------------


async def test_kb_counts_searches_and_those_that_found_nothing() -> None:
    counts = Counts(
        ("helpdesk_kb_searches_total", {"language": "en"}),
        ("helpdesk_kb_zero_result_searches_total", {"language": "en"}),
    )
    desk = KbDesk()
    await desk.kb.seed()
    async with TestKafkaBroker(desk.broker):
        found = await desk.kb.search("reset my password", "en", limit=5)
        nothing = await desk.kb.search("zebra xylophone quasar", "en", limit=5)
    assert found.found.hits and not nothing.found.hits
    assert counts.delta() == [2, 1]


# -- the consumer kit ------------------------------------------------------------------------


class Consumer:
    """What the kit reads of a consumer: the high watermark each fetch brought back."""

    def __init__(self, highwater: dict[int, int]) -> None:
        self.marks = highwater

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.marks.get(tp.partition)


class Listener:
    def __init__(self) -> None:
        self.revoked: list[set[TopicPartition]] = []

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.revoked.append(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        pass


async def test_the_lag_follows_each_batch_and_leaves_with_revoked_partitions() -> None:
    group, topic = f"g-{uuid.uuid4().hex[:6]}", "helpdesk.tickets.v1"

    def lag(partition: int) -> float | None:
        labels = {"group": group, "topic": topic, "partition": str(partition)}
        return REGISTRY.get_sample_value("helpdesk_consumer_lag", labels)

    consumer = Consumer({0: 10, 1: 8, 2: 50})
    batch = [record(topic, {}, n, partition=0) for n in range(5)] + [record(topic, {}, 7, 1)]
    note_lag(group, consumer, batch)
    # Partition 0: offsets 5..9 wait behind the batch; 1 is caught up; 2 sent nothing yet.
    assert (lag(0), lag(1), lag(2)) == (5, 0, None)
    consumer.marks[0] = 12
    note_lag(group, consumer, [record(topic, {}, 5, partition=0)])
    assert lag(0) == 6
    note_lag(group, object(), batch)  # the in-memory broker's consumer keeps no offsets
    assert lag(0) == 6

    inner = Listener()
    rebalance = LagOfAssigned(group, inner)
    await rebalance.on_partitions_revoked({TopicPartition(topic, 0)})
    assert (lag(0), lag(1)) == (None, 0)
    assert inner.revoked == [{TopicPartition(topic, 0)}]


async def test_a_dead_letter_is_counted_by_service_topic_and_error_type() -> None:
    settings = ServiceSettings(service_name="kittest")
    broker = KafkaBroker()
    kit = ConsumerKit(broker, settings, MemoryGuard())

    @kit.subscriber("notes", name="kittest.on_note", events=TicketEvent, description="test")
    async def handle(batch: Batch[Any]) -> None:
        for delivery in batch:
            with batch.isolate(delivery):
                raise ValueError("never right")

    def letters(reason: str) -> float:
        return value(
            "helpdesk_dead_letters_total", service="kittest", topic="notes", reason_type=reason
        )

    before = letters("ValueError"), letters("JSONDecodeError"), letters("ValidationError")
    note = TicketNoteAdded(ticket_id="t-1", agent_id="ag-nika", body="hi")
    async with TestKafkaBroker(broker):
        await kit.consume(
            kit.subscriptions["kittest.on_note"],
            [
                record("notes", note.model_dump(mode="json"), 0),
                record("notes", b"{", 1),
                record("notes", {"event_type": "ticket.note_added"}, 2),
            ],
        )
    after = letters("ValueError"), letters("JSONDecodeError"), letters("ValidationError")
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1]


# -- /metrics --------------------------------------------------------------------------------


def service_for(settings: ServiceSettings) -> Service:
    """A service with the kit's broker and no routes of its own; its database is never used."""
    service = Service(
        settings=settings,
        broker=make_broker(settings),
        mongo=AsyncMongoClient(settings.mongo.url, connect=False),
        http=new_http_app("metrics test", "test"),
    )
    service.seal(access_for(settings, load_directory(settings.config_dir)))
    return service


def operator_token() -> dict[str, str]:
    token = AgentTokens(SECRET).issue(OPERATOR, ttl=timedelta(hours=1), now=datetime.now(UTC))
    return {"Authorization": f"Bearer {token}"}


async def test_metrics_serves_faststream_and_help_desk_metrics_to_an_operator() -> None:
    settings = ServiceSettings(
        service_name=f"metrics{uuid.uuid4().hex[:6]}",
        config_dir=ROOT / "config",
        environment="local",
        agent_token_secret=SECRET,
    )
    service = service_for(settings)
    kit = ConsumerKit(service.broker, settings, MemoryGuard())
    out = kit.publisher("out", TicketNoteAdded, title="out")

    @kit.subscriber("notes", name="metrics.on_note", events=TicketEvent, description="test")
    async def echo(batch: Batch[Any]) -> None:
        for delivery in batch:
            batch.publish(
                out, delivery.event.caused(TicketNoteAdded, "echo", agent_id="a", body="x")
            )

    note = TicketNoteAdded(ticket_id="t-1", agent_id="ag-nika", body="hi")
    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish_batch(note.model_dump(mode="json"), b"{", topic="notes")
        transport = httpx.ASGITransport(app=service.http)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            refused = await client.get("/metrics")
            scraped = await client.get("/metrics", headers=operator_token())
    await service.mongo.close()

    assert refused.status_code == 401
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    body = scraped.text
    app = f'app_name="{settings.service_name}"'
    # FastStream's middleware on the kit's batch subscriber: the batch's two records, acked
    # (the kit dead-lettered the bad one itself); and what the kit published, one by one.
    assert f'faststream_received_messages_total{{{app},broker="kafka",handler="notes"}} 2.0' in body
    assert (
        f'faststream_received_processed_messages_total{{{app},broker="kafka",handler="notes",'
        'status="acked"} 2.0'
    ) in body
    for destination in ("out", settings.topics.deadletter):
        assert (
            f'faststream_published_messages_total{{{app},broker="kafka",'
            f'destination="{destination}",status="success"}} 1.0'
        ) in body
    for name in (
        "faststream_received_messages_size_bytes_bucket",
        "faststream_received_processed_messages_duration_seconds_bucket",
        "faststream_published_messages_duration_seconds_bucket",
        "faststream_received_messages_in_process",
        "helpdesk_events_published_total",
        "helpdesk_contacts_total",
        "helpdesk_routing_decisions_total",
        "helpdesk_time_to_assignment_seconds_bucket",
        "helpdesk_sla_deadlines_armed",
        "helpdesk_sla_firing_lateness_seconds_bucket",
        "helpdesk_sla_warnings_total",
        "helpdesk_sla_breaches_total",
        "helpdesk_deliveries_total",
        "helpdesk_delivery_retries_total",
        "helpdesk_kb_searches_total",
        "helpdesk_kb_zero_result_searches_total",
        "helpdesk_consumer_lag",
        "helpdesk_dead_letters_total",
    ):
        assert f"# TYPE {name.removesuffix('_bucket')}" in body or f"\n{name}" in body, name


#: What the worker processes and the scraper share: a service as `service_for` builds it.
PRELUDE = f"""
import asyncio, sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from pymongo import AsyncMongoClient
from shared.access import access_for
from shared.agent_tokens import AgentTokens
from shared.broker import make_broker
from shared.directory import load_directory
from shared.runtime import Service, new_http_app
from shared.settings import ServiceSettings

settings = ServiceSettings(
    service_name="worker", config_dir=Path("config"), environment="local",
    agent_token_secret="{SECRET}",
)
service = Service(
    settings=settings,
    broker=make_broker(settings),
    mongo=AsyncMongoClient(settings.mongo.url, connect=False),
    http=new_http_app("worker", "test"),
)
service.seal(access_for(settings, load_directory(settings.config_dir)))
"""

WORKER = (
    PRELUDE
    + """
from shared.metrics import CONTACTS, SLA_DEADLINES_ARMED, CONSUMER_LAG
n = int(sys.argv[1])
CONTACTS.labels("email", "ticket").inc(n)
SLA_DEADLINES_ARMED.inc(10 * n)
CONSUMER_LAG.labels("helpdesk-router", "helpdesk.tickets.v1", str(n)).set(100 * n)
if sys.argv[2] == "stops":
    asyncio.run(service.stop())  # as a service stops: its gauges leave the sum
"""
)

SCRAPER = (
    PRELUDE
    + f"""
import httpx

async def main():
    now = datetime.now(UTC)
    token = AgentTokens("{SECRET}").issue("{OPERATOR}", ttl=timedelta(hours=1), now=now)
    transport = httpx.ASGITransport(app=service.http)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        answer = await client.get("/metrics", headers={{"Authorization": f"Bearer {{token}}"}})
    assert answer.status_code == 200, answer.text
    print(answer.text)

asyncio.run(main())
"""
)


def python(code: str, *args: str, folder: Path) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def samples(text: str) -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def test_with_a_multiprocess_dir_metrics_serves_the_sum_of_the_workers(tmp_path: Path) -> None:
    python(WORKER, "1", "runs", folder=tmp_path)
    python(WORKER, "2", "runs", folder=tmp_path)
    served = samples(python(SCRAPER, folder=tmp_path))
    assert served['helpdesk_contacts_total{channel="email",outcome="ticket"}'] == 3
    assert served["helpdesk_sla_deadlines_armed"] == 30
    lag = (
        'helpdesk_consumer_lag{group="helpdesk-router",partition="%d",topic="helpdesk.tickets.v1"}'
    )
    assert (served[lag % 1], served[lag % 2]) == (100, 200)

    python(WORKER, "4", "stops", folder=tmp_path)
    served = samples(python(SCRAPER, folder=tmp_path))
    # A counter keeps what a stopped worker counted; its gauges are gone from the sum.
    assert served['helpdesk_contacts_total{channel="email",outcome="ticket"}'] == 7
    assert served["helpdesk_sla_deadlines_armed"] == 30
    assert lag % 4 not in served
