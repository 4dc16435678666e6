"""The notifier's live push through TestKafkaBroker and a real WebSocket client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from services.notifier.auth import sign_token
from services.notifier.settings import NotifierSettings
from shared.events import (
    NotificationEvent,
    TicketAssigned,
)
from shared.ids import ticket_reference
from shared.runtime import Service
from tests.handler.notifier.support import (
    Mailbox,
    capture_into,
    make_breach,
    served,
    start_notifier,
)


async def test_assignment_is_pushed_to_the_agents_websocket(
    live_notifier: tuple[Service, NotifierSettings, int],
) -> None:
    service, settings, port = live_notifier
    outcomes: list[NotificationEvent] = []
    capture_into(service, settings.topics.notifications, outcomes)
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
    capture_into(service, settings.topics.notifications, outcomes)
    token = sign_token("test-secret", "mgr-technical")
    breach = make_breach("resolution")

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
    capture_into(service, settings.topics.notifications, outcomes)
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
    service, settings = await start_notifier(make_settings)
    letters: list[dict[str, Any]] = []
    capture_into(service, settings.topics.deadletter, letters, raw=True)

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
    first, settings = await start_notifier(make_settings, replica_id="replica-a", **options)
    second, _ = await start_notifier(make_settings, replica_id="replica-b", **options)
    assert first.db.name == second.db.name
    outcomes: list[NotificationEvent] = []
    capture_into(first, settings.topics.notifications, outcomes)
    capture_into(second, settings.topics.notifications, outcomes)
    token = sign_token("test-secret", "mgr-technical")
    breach = make_breach("resolution")

    async with (
        served(first) as first_port,
        served(second) as second_port,
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
