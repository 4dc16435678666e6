"""The notifier's subscribers through TestKafkaBroker, a real SMTP server and a real WebSocket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from typing import Any

import pytest
import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from faststream.kafka import TestKafkaBroker
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from devstack.stack import free_port
from services.notifier.app import build_app
from services.notifier.auth import sign_token
from services.notifier.settings import NotifierSettings
from shared.events import (
    NotificationDelivered,
    NotificationEvent,
    NotificationFailed,
    SlaBreached,
    TicketAssigned,
    notification_events,
)
from shared.ids import ticket_reference
from shared.runtime import Service
from tests.conftest import eventually

DUE = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class Mailbox:
    """An aiosmtpd handler that keeps every envelope it accepts."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def subjects(self) -> list[str]:
        return [
            str(message_from_bytes(e.original_content or b"", policy=policy.default)["Subject"])
            for e in self.envelopes
        ]


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def _breach(metric: str = "first_response", **kw: Any) -> SlaBreached:
    values: dict[str, Any] = {
        "ticket_id": "t-1001",
        "metric": metric,
        "team": "technical",
        "assignee_id": "ag-nika",
        "priority": "P2",
        "due_at": DUE,
        "occurred_at": DUE + timedelta(seconds=1),
        "late_by_seconds": 1.0,
        "correlation_id": "c-1",
    }
    values.update(kw)
    return SlaBreached(**values)


async def _notifier(make_settings: Any, **overrides: Any) -> tuple[Service, NotifierSettings]:
    settings = make_settings(NotifierSettings, smtp_backoff_seconds=0.01, **overrides)
    service = build_app(settings)
    for hook in service.on_start:
        await hook()
    return service, settings


def _capture(service: Service, topic: str, into: list[Any], *, raw: bool = False) -> None:
    @service.broker.subscriber(topic)
    async def capture(body: dict[str, Any]) -> None:
        into.append(body if raw else notification_events.validate_python(body))


async def test_first_response_breach_emails_the_agent_once(
    make_settings: Any, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    service, settings = await _notifier(make_settings, smtp_port=port)
    outcomes: list[NotificationEvent] = []
    _capture(service, settings.topics.notifications, outcomes)
    breach = _breach()

    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(breach.model_dump(mode="json"), settings.topics.sla)
        await broker.publish(breach.model_dump(mode="json"), settings.topics.sla)

    assert [e.rcpt_tos for e in mailbox.envelopes] == [["nika@helpdesk.example"]]
    assert mailbox.envelopes[0].mail_from == "helpdesk@helpdesk.example"
    [subject] = mailbox.subjects()
    assert subject.startswith(f"[{ticket_reference('t-1001')}] First response overdue")
    assert subject.startswith("[HD-")
    [delivered] = outcomes
    assert isinstance(delivered, NotificationDelivered)
    assert (delivered.recipient, delivered.channel, delivered.address, delivered.attempts) == (
        "ag-nika",
        "email",
        "nika@helpdesk.example",
        1,
    )
    assert delivered.cause_event_id == str(breach.event_id)
    assert delivered.causation_id == str(breach.event_id)
    assert delivered.ticket_id == "t-1001" and delivered.correlation_id == "c-1"
    [logged] = await service.db["deliveries"].find({}).to_list()
    assert logged["_id"] == f"{breach.event_id}:ag-nika:email"
    assert logged["status"] == "sent"
    await service.mongo.close()


async def test_breach_already_sent_is_not_emailed_again_after_a_crash(
    make_settings: Any, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    service, settings = await _notifier(make_settings, smtp_port=port)
    outcomes: list[NotificationEvent] = []
    _capture(service, settings.topics.notifications, outcomes)
    breach = _breach()

    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(breach.model_dump(mode="json"), settings.topics.sla)
        # As if the handler had died after sending but before marking the event processed.
        await service.db["processed_events"].delete_many({})
        await broker.publish(breach.model_dump(mode="json"), settings.topics.sla)

    assert len(mailbox.envelopes) == 1
    assert len(outcomes) == 2
    assert outcomes[0].event_id == outcomes[1].event_id
    await service.mongo.close()


async def test_resolution_breach_emails_the_team_manager(
    make_settings: Any, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    service, settings = await _notifier(make_settings, smtp_port=port)
    outcomes: list[NotificationEvent] = []
    _capture(service, settings.topics.notifications, outcomes)

    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(_breach("resolution").model_dump(mode="json"), settings.topics.sla)

    assert [e.rcpt_tos for e in mailbox.envelopes] == [["eleni.manager@helpdesk.example"]]
    assert mailbox.subjects()[0].startswith(f"[{ticket_reference('t-1001')}] Resolution overdue")
    assert [(o.recipient, o.event_type) for o in outcomes] == [
        ("mgr-technical", "notification.delivered")
    ]
    await service.mongo.close()


async def test_smtp_down_reports_failure_after_retries_without_dead_letter(
    make_settings: Any,
) -> None:
    service, settings = await _notifier(make_settings, smtp_port=free_port(), smtp_attempts=3)
    outcomes: list[NotificationEvent] = []
    letters: list[dict[str, Any]] = []
    _capture(service, settings.topics.notifications, outcomes)
    _capture(service, settings.topics.deadletter, letters, raw=True)

    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(_breach().model_dump(mode="json"), settings.topics.sla)

    [failed] = outcomes
    assert isinstance(failed, NotificationFailed)
    assert (failed.recipient, failed.channel, failed.attempts) == ("ag-nika", "email", 3)
    assert failed.error
    assert letters == []
    [logged] = await service.db["deliveries"].find({}).to_list()
    assert (logged["status"], logged["attempts"]) == ("failed", 3)
    await service.mongo.close()


@asynccontextmanager
async def _served(service: Service) -> AsyncIterator[int]:
    """The service's HTTP app served by a real uvicorn on a free port (no Kafka lifespan)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(service.http, host="127.0.0.1", port=port, lifespan="off", log_config=None)
    )
    task = asyncio.create_task(server.serve())

    await eventually(lambda: server.started, timeout=10)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


async def test_breach_for_nobody_in_the_directory_is_dead_lettered_with_its_reason(
    make_settings: Any, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    service, settings = await _notifier(make_settings, smtp_port=port)
    outcomes: list[NotificationEvent] = []
    letters: list[dict[str, Any]] = []
    _capture(service, settings.topics.notifications, outcomes)
    _capture(service, settings.topics.deadletter, letters, raw=True)
    breach = _breach("next_reply", ticket_id="t-77", team="nobody", assignee_id="ag-ghost")

    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(breach.model_dump(mode="json"), settings.topics.sla)

    # One letter, from the shared email consumer; the per-replica push consumer stays quiet.
    [letter] = letters
    assert letter["error_type"] == "PermanentError"
    assert letter["consumer_group"] == settings.consumer_group
    assert letter["source_topic"] == settings.topics.sla
    for part in ("next_reply", "t-77", "'nobody'", "'ag-ghost'", "no recipient"):
        assert part in letter["reason"]
    assert json.loads(letter["original_value"])["event_id"] == str(breach.event_id)
    assert mailbox.envelopes == [] and outcomes == []
    assert not await service.db["processed_events"].find_one({})
    await service.mongo.close()


@pytest.fixture
async def live_notifier(
    make_settings: Any, smtp_server: tuple[Mailbox, int]
) -> AsyncIterator[tuple[Service, NotifierSettings, int]]:
    """A notifier whose WebSocket endpoint is live on a free port."""
    service, settings = await _notifier(
        make_settings, push_secret="test-secret", smtp_port=smtp_server[1]
    )
    try:
        async with _served(service) as port:
            yield service, settings, port
    finally:
        await service.mongo.close()


async def test_assignment_is_pushed_to_the_agents_websocket(
    live_notifier: tuple[Service, NotifierSettings, int],
) -> None:
    service, settings, port = live_notifier
    outcomes: list[NotificationEvent] = []
    _capture(service, settings.topics.notifications, outcomes)
    token = sign_token("test-secret", "ag-nika")
    assigned = TicketAssigned(
        ticket_id="t-2002",
        agent_id="ag-nika",
        team="technical",
        reason="network skill, lowest load",
    )

    async with (
        connect(f"ws://127.0.0.1:{port}/ws/ag-nika?token={token}") as console,
        TestKafkaBroker(service.broker) as broker,
    ):
        await console.send("ping")
        assert json.loads(await asyncio.wait_for(console.recv(), 5)) == {"type": "pong"}
        await broker.publish(assigned.model_dump(mode="json"), settings.topics.routing)
        pushed = json.loads(await asyncio.wait_for(console.recv(), 5))

    assert pushed["type"] == "ticket.assigned"
    assert pushed["ticket_id"] == "t-2002"
    assert pushed["reference"] == ticket_reference("t-2002")
    assert pushed["text"].endswith("assigned to you: network skill, lowest load")
    assert pushed["event"]["event_id"] == str(assigned.event_id)
    [delivered] = outcomes
    assert (delivered.recipient, delivered.channel) == ("ag-nika", "push")
    assert delivered.cause_event_id == str(assigned.event_id)


async def test_breach_is_pushed_to_the_connected_manager_once(
    live_notifier: tuple[Service, NotifierSettings, int],
) -> None:
    service, settings, port = live_notifier
    outcomes: list[NotificationEvent] = []
    _capture(service, settings.topics.notifications, outcomes)
    token = sign_token("test-secret", "mgr-technical")
    breach = _breach("resolution")

    async with (
        connect(f"ws://127.0.0.1:{port}/ws/mgr-technical?token={token}") as console,
        TestKafkaBroker(service.broker) as broker,
    ):
        await console.send(json.dumps({"type": "ping"}))
        assert json.loads(await asyncio.wait_for(console.recv(), 5)) == {"type": "pong"}
        await broker.publish(breach.model_dump(mode="json"), settings.topics.sla)
        await broker.publish(breach.model_dump(mode="json"), settings.topics.sla)
        pushed = json.loads(await asyncio.wait_for(console.recv(), 5))
        await console.send("ping")
        # The next frame is the pong, not a second copy of the breach.
        assert json.loads(await asyncio.wait_for(console.recv(), 5)) == {"type": "pong"}

    assert (pushed["type"], pushed["ticket_id"]) == ("sla.breached", "t-1001")
    assert sorted((o.channel, o.recipient) for o in outcomes) == [
        ("email", "mgr-technical"),
        ("push", "mgr-technical"),
    ]


async def test_push_skips_people_not_connected_to_this_replica(
    live_notifier: tuple[Service, NotifierSettings, int],
) -> None:
    service, settings, _ = live_notifier
    outcomes: list[NotificationEvent] = []
    _capture(service, settings.topics.notifications, outcomes)
    assigned = TicketAssigned(
        ticket_id="t-3", agent_id="ag-john", team="accounts", reason="billing"
    )

    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(assigned.model_dump(mode="json"), settings.topics.routing)

    assert outcomes == []
    assert await service.db["deliveries"].count_documents({}) == 0


async def test_websocket_with_a_bad_token_is_refused(
    live_notifier: tuple[Service, NotifierSettings, int],
) -> None:
    _, _, port = live_notifier
    wrong = sign_token("test-secret", "ag-sergei")
    async with connect(f"ws://127.0.0.1:{port}/ws/ag-nika?token={wrong}") as console:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(console.recv(), 5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401
    assert "token" in closed.value.rcvd.reason


async def test_unreadable_event_is_dead_lettered_once_not_by_every_push_replica(
    make_settings: Any,
) -> None:
    service, settings = await _notifier(make_settings)
    letters: list[dict[str, Any]] = []
    _capture(service, settings.topics.deadletter, letters, raw=True)

    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish({"event_type": "sla.breached", "ticket_id": 5}, settings.topics.sla)
        await broker.publish({"event_type": "ticket.assigned"}, settings.topics.routing)

    # Only the shared email consumer dead-letters the bad SLA event; the routing topic's
    # bad event belongs to its shared consumers in other services.
    assert [letter["source_topic"] for letter in letters] == [settings.topics.sla]
    assert letters[0]["consumer_group"] == settings.consumer_group
    await service.mongo.close()


async def test_person_on_two_replicas_gets_the_push_from_both(
    make_settings: Any, smtp_server: tuple[Mailbox, int]
) -> None:
    # Two replicas share one database, as in a deployment; each reads every event.
    options = {"push_secret": "test-secret", "smtp_port": smtp_server[1]}
    first, settings = await _notifier(make_settings, replica_id="replica-a", **options)
    second, _ = await _notifier(make_settings, replica_id="replica-b", **options)
    assert first.db.name == second.db.name
    outcomes: list[NotificationEvent] = []
    _capture(first, settings.topics.notifications, outcomes)
    _capture(second, settings.topics.notifications, outcomes)
    token = sign_token("test-secret", "mgr-technical")
    breach = _breach("resolution")

    async with (
        _served(first) as first_port,
        _served(second) as second_port,
        connect(f"ws://127.0.0.1:{first_port}/ws/mgr-technical?token={token}") as on_first,
        connect(f"ws://127.0.0.1:{second_port}/ws/mgr-technical?token={token}") as on_second,
        TestKafkaBroker(first.broker) as first_broker,
        TestKafkaBroker(second.broker) as second_broker,
    ):
        for console in (on_first, on_second):
            await console.send("ping")
            assert json.loads(await asyncio.wait_for(console.recv(), 5)) == {"type": "pong"}
        await first_broker.publish(breach.model_dump(mode="json"), settings.topics.sla)
        await second_broker.publish(breach.model_dump(mode="json"), settings.topics.sla)
        pushed = [json.loads(await asyncio.wait_for(c.recv(), 5)) for c in (on_first, on_second)]

    assert [p["event"]["event_id"] for p in pushed] == [str(breach.event_id)] * 2
    pushes = [o for o in outcomes if o.channel == "push"]
    assert sorted(o.address or "" for o in pushes) == ["websocket:replica-a", "websocket:replica-b"]
    assert len({o.event_id for o in pushes}) == 2
    # The email stays once for the deployment, whichever replica sends it.
    assert [o.channel for o in outcomes].count("email") == 1
    logged = await first.db["deliveries"].find({"channel": "push"}).to_list()
    assert sorted(d["_id"] for d in logged) == [
        f"{breach.event_id}:mgr-technical:push:replica-a",
        f"{breach.event_id}:mgr-technical:push:replica-b",
    ]
    assert {d["status"] for d in logged} == {"sent"}
    await first.mongo.close()
    await second.mongo.close()
