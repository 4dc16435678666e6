"""The console's HTTP API over a real server: who the caller is, their board (tickets and open
escalations) per role, and escalations pushed live and acknowledged."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from faststream.kafka import TestKafkaBroker
from websockets.asyncio.client import ClientConnection, connect

from shared.events import Event, TicketOpened, TicketQueued, TicketStatusChanged
from shared.ids import derived_id, ticket_reference
from tests.handler.notifier.support import (
    bearer,
    make_assigned,
    make_breach,
    served,
    start_notifier,
    token_for,
)


async def next_of(console: ClientConnection, kind: str) -> dict[str, Any]:
    """The next message of a kind the console receives, skipping the others."""
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(console.recv(), 5))
        if message["type"] == kind:
            return message


def opened(ticket_id: str, subject: str) -> TicketOpened:
    return TicketOpened(
        ticket_id=ticket_id,
        reference=ticket_reference(ticket_id),
        contact_id=f"c-{ticket_id}",
        customer_id="cu-1",
        customer_name="Acme Shipping",
        channel="email",
        subject=subject,
    )


async def test_the_board_shows_each_role_its_tickets_and_open_escalations(
    make_settings: Any,
) -> None:
    service, settings = await start_notifier(make_settings)
    breach = make_breach(ticket_id="t-1")
    escalation_id = str(derived_id(breach.event_id, "escalation"))
    topics = settings.topics
    story: list[tuple[Event, str]] = [
        (opened("t-1", "VPN drops every hour"), topics.tickets),
        (make_assigned("t-1", "ag-nika"), topics.routing),
        (
            TicketQueued(
                ticket_id="t-2",
                team="technical",
                tier="L1",
                priority="P2",
                order="fifo",
                reason="busy",
            ),
            topics.routing,
        ),
        (make_assigned("t-3", "ag-sergei"), topics.routing),
        (make_assigned("t-4", "ag-nika"), topics.routing),
        (TicketStatusChanged(ticket_id="t-4", status="resolved"), topics.tickets),
        (breach, topics.sla),
    ]

    async with (
        TestKafkaBroker(service.broker) as broker,
        served(service) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
        connect(f"ws://127.0.0.1:{port}/ws?token={token_for('ag-nika')}") as console,
    ):
        await console.send("ping")
        assert json.loads(await asyncio.wait_for(console.recv(), 5)) == {"type": "pong"}
        for event, topic in story:
            await broker.publish(event.model_dump(mode="json"), topic)
        boards = {
            person: (await client.get("/board", headers=bearer(person))).json()
            for person in ("ag-nika", "ag-sergei", "lead-technical", "mgr-technical", "ag-john")
        }
        me = await client.get("/me", headers=bearer("lead-technical"))
        stranger = await client.get("/board", headers=bearer("somebody-else"))
        anonymous = await client.get("/board")
        live = (await next_of(console, "escalation"))["data"]

    def tickets(person: str) -> list[str]:
        return sorted(row["ticket_id"] for row in boards[person]["tickets"])

    def escalations(person: str) -> list[str]:
        return [e["escalation_id"] for e in boards[person]["escalations"]]

    assert tickets("ag-nika") == ["t-1", "t-2"]
    assert tickets("ag-sergei") == ["t-2", "t-3"]
    assert tickets("lead-technical") == tickets("mgr-technical") == ["t-1", "t-2", "t-3"]
    assert tickets("ag-john") == []
    assert escalations("ag-nika") == [escalation_id]
    assert escalations("lead-technical") == escalations("mgr-technical") == [escalation_id]
    assert escalations("ag-sergei") == escalations("ag-john") == []
    [row] = [r for r in boards["ag-nika"]["tickets"] if r["ticket_id"] == "t-1"]
    assert row["reference"] == ticket_reference("t-1")
    assert (row["subject"], row["customer"], row["team"]) == (
        "VPN drops every hour",
        "Acme Shipping",
        "technical",
    )
    assert (row["assignee_id"], row["queued"], row["open"]) == ("ag-nika", False, True)
    assert row["sla"]["metric"] == "first_response"
    assert (row["sla"]["colour"], row["sla"]["breached"]) == ("red", True)
    [view] = boards["ag-nika"]["escalations"]
    assert (view["ticket_id"], view["metric"], view["status"], view["rung"]) == (
        "t-1",
        "first_response",
        "open",
        0,
    )
    assert view["rungs"] == 4 and view["acknowledge_by"] is not None
    assert view["text"].startswith(ticket_reference("t-1"))
    assert boards["mgr-technical"]["person"]["role"] == "manager"
    assert me.json() == {
        "person_id": "lead-technical",
        "name": "Ivan Petrov",
        "role": "lead",
        "teams": ["technical"],
        "language": "ru",
    }
    # A token naming nobody in the directory is no credential (the shared access model).
    assert stranger.status_code == 401 and anonymous.status_code == 401
    assert (live["escalation_id"], live["status"], live["rung"]) == (escalation_id, "open", 0)
    await service.mongo.close()


async def test_an_acknowledgement_is_pushed_to_everyone_who_was_shown_the_escalation(
    make_settings: Any,
) -> None:
    service, settings = await start_notifier(make_settings)
    breach = make_breach("resolution")
    escalation_id = str(derived_id(breach.event_id, "escalation"))

    async with (
        TestKafkaBroker(service.broker) as broker,
        served(service) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
        connect(f"ws://127.0.0.1:{port}/ws?token={token_for('lead-technical')}") as lead,
    ):
        await lead.send("ping")
        assert json.loads(await asyncio.wait_for(lead.recv(), 5)) == {"type": "pong"}
        await broker.publish(breach.model_dump(mode="json"), settings.topics.sla)
        # The manager alone is told at the first rung; the lead heads the team all the same.
        answer = await client.post(
            f"/escalations/{escalation_id}/acknowledge", headers=bearer("lead-technical")
        )
        update = await next_of(lead, "escalation")

    assert answer.status_code == 200
    assert (answer.json()["status"], answer.json()["acknowledged_by"]) == (
        "acknowledged",
        "lead-technical",
    )
    assert update["type"] == "escalation"
    assert (update["data"]["escalation_id"], update["data"]["status"]) == (
        escalation_id,
        "acknowledged",
    )
    assert update["data"]["acknowledged_by"] == "lead-technical"
    assert update["data"]["reference"] == ticket_reference("t-1001") and update["data"]["reason"]
    await service.mongo.close()
