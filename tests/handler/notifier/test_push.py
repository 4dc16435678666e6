"""Live push scoped per person, over a real WebSocket and a real Server-Sent Events client;
a bad message dead-lettered once by the shared group, not by every replica's push consumer."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import httpx
import pytest
from faststream.kafka import TestKafkaBroker
from httpx_sse import aconnect_sse
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from shared.events import Event, TicketQueued, TicketStatusChanged, TicketTransferred
from shared.ids import ticket_reference
from tests.conftest import eventually
from tests.handler.notifier.support import (
    bearer,
    capture_into,
    make_assigned,
    served,
    start_notifier,
    token_for,
)

Message = dict[str, Any]


def queued(ticket_id: str, team: str = "technical") -> TicketQueued:
    return TicketQueued(
        ticket_id=ticket_id,
        team=team,
        tier="L1",
        priority="P3",
        order="fifo",
        reason="nobody with the skill is online",
    )


@asynccontextmanager
async def websocket(port: int, person_id: str) -> AsyncIterator[list[Message]]:
    """A console on the WebSocket, connected once a ping is answered; yields what it receives."""
    received: list[Message] = []
    async with connect(f"ws://127.0.0.1:{port}/ws?token={token_for(person_id)}") as console:
        await console.send("ping")
        assert json.loads(await asyncio.wait_for(console.recv(), 5)) == {"type": "pong"}
        reader = asyncio.create_task(_read_websocket(console, received))
        try:
            yield received
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


async def _read_websocket(console: ClientConnection, into: list[Message]) -> None:
    async for frame in console:
        into.append(json.loads(frame))


@asynccontextmanager
async def event_stream(port: int, person_id: str) -> AsyncIterator[list[Message]]:
    """A console on Server-Sent Events, connected once `hello` arrives; messages as
    `{"type": event, "data": ...}` like the WebSocket's."""
    received: list[Message] = []
    url = f"http://127.0.0.1:{port}/events"
    async with httpx.AsyncClient(timeout=httpx.Timeout(5, read=None)) as client:

        async def read() -> None:
            params = {"token": token_for(person_id)}
            async with aconnect_sse(client, "GET", url, params=params) as source:
                async for event in source.aiter_sse():
                    received.append({"type": event.event, "data": json.loads(event.data)})

        reader = asyncio.create_task(read())
        try:
            await eventually(lambda: received, timeout=10)
            assert received.pop(0)["type"] == "hello"
            yield received
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


def rows(messages: list[Message]) -> list[tuple[str, str | None, bool]]:
    """The ticket rows pushed: (ticket, assignee, open)."""
    return [
        (m["data"]["ticket_id"], m["data"]["assignee_id"], m["data"]["open"])
        for m in messages
        if m["type"] == "ticket"
    ]


def shown(messages: list[Message]) -> set[str]:
    """The tickets a console shows after applying its messages in order."""
    on_screen: set[str] = set()
    for ticket_id, _, still_open in rows(messages):
        (on_screen.add if still_open else on_screen.discard)(ticket_id)
    return on_screen


def has_row(messages: list[Message], row: tuple[str, str | None, bool]) -> bool:
    return row in rows(messages)


def notices(messages: list[Message]) -> list[Message]:
    return [m["data"] for m in messages if m["type"] == "notice"]


async def test_each_console_gets_its_own_tickets_its_teams_queue_and_drops_those_it_loses(
    make_settings: Any,
) -> None:
    service, settings = await start_notifier(make_settings)

    async def publish(broker: Any, event: Event, topic: str) -> None:
        await broker.publish(event.model_dump(mode="json"), topic)

    async with (
        TestKafkaBroker(service.broker) as broker,
        served(service) as port,
        websocket(port, "ag-nika") as nika,
        event_stream(port, "ag-sergei") as sergei,
        websocket(port, "mgr-technical") as manager,
        event_stream(port, "ag-john") as john,
    ):
        routing = settings.topics.routing
        await publish(broker, make_assigned("t-1", "ag-nika"), routing)
        await publish(broker, queued("t-2"), routing)
        await publish(broker, make_assigned("t-3", "ag-sergei"), routing)
        transfer = TicketTransferred(
            ticket_id="t-1",
            from_agent_id="ag-nika",
            to_agent_id="ag-sergei",
            from_team="technical",
            to_team="technical",
            transfer_count=1,
            reason="needs a software specialist",
        )
        await publish(broker, transfer, routing)
        resolved = TicketStatusChanged(ticket_id="t-3", status="resolved")
        await publish(broker, resolved, settings.topics.tickets)
        # Last, one message each console should see: all before it has arrived by then.
        await publish(broker, queued("t-4"), routing)
        await publish(broker, queued("t-5", team="accounts"), routing)
        for console in (nika, sergei, manager):
            await eventually(partial(has_row, console, ("t-4", None, True)))
        await eventually(lambda: rows(john))

    # A console may also be told to drop a row it never showed (when a replica cannot tell
    # who showed it, it tells everyone who might have): what counts is what stays on screen.
    assert shown(nika) == {"t-2", "t-4"}
    assert ("t-1", "ag-nika", True) in rows(nika) and ("t-1", "ag-sergei", False) in rows(nika)
    assert not [r for r in rows(nika) if r[0] in ("t-3", "t-5") and r[2]]
    assert shown(sergei) == {"t-1", "t-2", "t-4"}
    assert ("t-3", "ag-sergei", True) in rows(sergei)
    assert ("t-3", "ag-sergei", False) in rows(sergei)
    assert shown(manager) == {"t-1", "t-2", "t-4"}
    assert [r for r in rows(manager) if r[2]] == [
        ("t-1", "ag-nika", True),
        ("t-2", None, True),
        ("t-3", "ag-sergei", True),
        ("t-1", "ag-sergei", True),
        ("t-4", None, True),
    ]
    assert rows(john) == [("t-5", None, True)]
    [told] = notices(nika)
    assert (told["kind"], told["ticket_id"], told["reference"]) == (
        "assigned",
        "t-1",
        ticket_reference("t-1"),
    )
    assert "assigned to you" in told["text"]
    assert [n["ticket_id"] for n in notices(sergei)] == ["t-3"]
    assert notices(manager) == [] and notices(john) == []
    await service.mongo.close()


async def test_the_agent_who_lost_a_ticket_is_told_by_a_replica_that_never_saw_it_before(
    make_settings: Any,
) -> None:
    # Two replicas of one deployment (one database). The first handles the ticket's events in
    # the shared group; the second holds the agent's console and has no row of it in memory.
    first, settings = await start_notifier(make_settings, replica_id="replica-a")
    second, _ = await start_notifier(make_settings, replica_id="replica-b")
    assigned = make_assigned("t-1")
    transfer = TicketTransferred(
        ticket_id="t-1",
        from_agent_id="ag-nika",
        to_agent_id="ag-sergei",
        from_team="technical",
        to_team="technical",
        transfer_count=1,
        reason="needs a software specialist",
    )
    async with TestKafkaBroker(first.broker) as broker:
        await broker.publish(assigned.model_dump(mode="json"), settings.topics.routing)
        await broker.publish(transfer.model_dump(mode="json"), settings.topics.routing)
    await first.mongo.close()

    async with (
        TestKafkaBroker(second.broker) as broker,
        served(second) as port,
        websocket(port, "ag-nika") as nika,
    ):
        # Every replica's push consumer reads the transfer too.
        await broker.publish(transfer.model_dump(mode="json"), settings.topics.routing)
        await broker.publish(queued("t-4").model_dump(mode="json"), settings.topics.routing)
        await eventually(partial(has_row, nika, ("t-4", None, True)))

    assert rows(nika) == [("t-1", "ag-sergei", False), ("t-4", None, True)]
    await second.mongo.close()


@pytest.mark.parametrize("token", ["not-a-token", None])
async def test_a_bad_token_closes_the_websocket_4401_and_is_refused_401_on_sse(
    make_settings: Any, token: str | None
) -> None:
    service, _ = await start_notifier(make_settings)
    query = f"?token={token}" if token else ""

    async with served(service) as port:
        async with connect(f"ws://127.0.0.1:{port}/ws{query}") as console:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(console.recv(), 5)
        async with httpx.AsyncClient() as client:
            answer = await client.get(f"http://127.0.0.1:{port}/events{query}")

    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    assert answer.status_code == 401
    await service.mongo.close()


async def test_an_unreadable_sla_event_is_dead_lettered_once_by_the_shared_group(
    make_settings: Any,
) -> None:
    service, settings = await start_notifier(make_settings)
    letters: list[dict[str, Any]] = []
    capture_into(service, settings.topics.deadletter, letters, raw=True)

    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish({"event_type": "sla.breached", "ticket_id": 5}, settings.topics.sla)
        await broker.publish(b"not json at all", settings.topics.sla)

    # Two subscribers of this service read the topic (the shared one and this replica's push
    # consumer): each bad message is dead-lettered once, by the shared group.
    assert [letter["source_topic"] for letter in letters] == [settings.topics.sla] * 2
    # The SLA topic's shared group (not this replica's own) names itself in each letter.
    assert {letter["consumer_group"] for letter in letters} == {settings.group()}
    assert letters[0]["reason"].startswith("invalid message")
    assert letters[1]["original_value"] == "not json at all"
    assert await service.db["board"].count_documents({}) == 0
    await service.mongo.close()


async def test_without_a_token_secret_the_console_is_unavailable(make_settings: Any) -> None:
    service, _ = await start_notifier(make_settings, agent_token_secret=None)

    async with served(service) as port:
        async with connect(f"ws://127.0.0.1:{port}/ws?token={token_for('ag-nika')}") as console:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(console.recv(), 5)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            events = await client.get("/events", params={"token": token_for("ag-nika")})
            board = await client.get("/board", headers=bearer("ag-nika"))

    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
    assert events.status_code == board.status_code == 503
    await service.mongo.close()


async def test_a_notice_a_console_took_is_logged_as_delivered_by_push(
    make_settings: Any,
) -> None:
    service, settings = await start_notifier(make_settings, replica_id="replica-p")
    outcomes: list[Any] = []
    capture_into(service, settings.topics.notifications, outcomes)
    assigned = make_assigned("t-7", "ag-nika")

    async with (
        TestKafkaBroker(service.broker) as broker,
        served(service) as port,
        websocket(port, "ag-nika") as nika,
    ):
        await broker.publish(assigned.model_dump(mode="json"), settings.topics.routing)
        await eventually(lambda: notices(nika))
        pushed = await eventually(
            lambda: [o for o in outcomes if o.event_type == "notification.delivered"]
        )

    [delivered] = pushed
    assert (delivered.recipient, delivered.channel, delivered.address) == (
        "ag-nika",
        "push",
        "console:replica-p",
    )
    assert delivered.cause_event_id == str(assigned.event_id)
    await service.mongo.close()
