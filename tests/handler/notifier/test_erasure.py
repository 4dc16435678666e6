"""Erasing a customer on the real database: after `customer.erased`, no collection of the
notifier's database holds the person's address, name or phone number (queued and sent emails,
escalations and board rows alike), another customer's data stays, and a console showing the
ticket is sent the row without them."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from websockets.asyncio.client import connect

from shared.clock import FakeClock
from shared.events import CustomerErased, Event, TicketOpened
from shared.ids import ticket_reference
from shared.runtime import Service
from tests.conftest import eventually
from tests.handler.notifier.support import (
    Mailbox,
    bearer,
    make_assigned,
    make_breach,
    running,
    served,
    start_notifier,
    token_for,
)
from tests.handler.notifier.test_push import Message, has_row

NAME, EMAIL, PHONE = "Eleni Kostopoulou", "eleni.k@customer.example", "+302101234567"
OTHER, OTHER_SUBJECT = "Acme Shipping", "Pallet tracking broken"
#: A Saturday: the urgent breach email goes at once, the assignment's waits for Monday.
SATURDAY = datetime(2026, 1, 10, 10, 0, tzinfo=UTC)


def opened(ticket_id: str, customer_id: str, name: str, subject: str) -> TicketOpened:
    return TicketOpened(
        ticket_id=ticket_id,
        reference=ticket_reference(ticket_id),
        contact_id=f"c-{ticket_id}",
        customer_id=customer_id,
        customer_name=name,
        channel="email",
        subject=subject,
        occurred_at=SATURDAY - timedelta(minutes=5),
    )


@asynccontextmanager
async def console(port: int, person_id: str, clock: FakeClock) -> AsyncIterator[list[Message]]:
    """A console on the WebSocket with a token of the service's (fake) time."""
    received: list[Message] = []
    token = token_for(person_id, now=clock.now())
    async with connect(f"ws://127.0.0.1:{port}/ws?token={token}") as socket:

        async def read() -> None:
            async for frame in socket:
                received.append(json.loads(frame))

        reader = asyncio.create_task(read())
        try:
            yield received
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


async def everything(service: Service) -> dict[str, str]:
    """Every collection of the service's database, as text."""
    found = {}
    for name in await service.db.list_collection_names():
        docs = await service.db[name].find({}).to_list()
        found[name] = json.dumps(docs, default=str, ensure_ascii=False)
    return found


async def test_after_an_erasure_no_collection_holds_the_person_and_others_stay(
    make_settings: Any, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, smtp_port = smtp_server
    clock = FakeClock(SATURDAY)
    service, settings = await start_notifier(make_settings, clock=clock, smtp_port=smtp_port)
    topics = settings.topics
    story: list[tuple[Event, str]] = [
        (opened("t-1", "cu-eleni", NAME, f"Router down, call {PHONE} or {EMAIL}"), topics.tickets),
        (opened("t-2", "cu-acme", OTHER, OTHER_SUBJECT), topics.tickets),
        (make_assigned("t-1", occurred_at=SATURDAY - timedelta(minutes=4)), topics.routing),
        (make_assigned("t-2", occurred_at=SATURDAY - timedelta(minutes=4)), topics.routing),
        (make_breach(ticket_id="t-1", occurred_at=SATURDAY), topics.sla),
        (make_breach(ticket_id="t-2", occurred_at=SATURDAY), topics.sla),
    ]
    erased = CustomerErased(
        customer_id="cu-eleni",
        customer_ids=["cu-eleni"],
        ticket_ids=["t-1"],
        identities=[f"email:{EMAIL}", f"phone:{PHONE}", f"name:{NAME}"],
        requested_by="mgr-technical",
    )

    async with (
        running(service) as broker,
        served(service) as port,
        console(port, "ag-nika", clock) as nika,
    ):
        for event, topic in story:
            await broker.publish(event.model_dump(mode="json"), topic)
        # The breaches' emails are sent (the delivery log); the assignments' wait (queued).
        await eventually(lambda: len(mailbox.envelopes) == 2)
        await eventually(lambda: has_row(nika, ("t-1", "ag-nika", True)))
        before = await everything(service)
        await broker.publish(erased.model_dump(mode="json"), topics.customers)
        blanked = await eventually(
            lambda: [
                m["data"]
                for m in nika
                if m["type"] == "ticket"
                and m["data"]["ticket_id"] == "t-1"
                and m["data"]["subject"] is None
            ]
        )
        after = await everything(service)
        # A redelivered opening writes nothing back.
        await broker.publish(story[0][0].model_dump(mode="json"), topics.tickets)
        again = await everything(service)
        board = await service.db["board"].find({}).to_list()

    jobs = json.loads(before["deliveries"])
    assert {job["status"] for job in jobs} == {"sent", "pending"}
    assert {"board", "deliveries", "escalations"} <= set(before)
    assert all(text in before["board"] for text in (NAME, PHONE, EMAIL))
    assert all(text in before["deliveries"] for text in (NAME, PHONE))
    assert all(text in before["escalations"] for text in (NAME, PHONE))
    for collection, text in after.items():
        for gone in (NAME, EMAIL, PHONE, "Router down"):
            assert gone not in text, (collection, gone)
    assert after == again
    assert OTHER in after["board"] and OTHER_SUBJECT in after["board"]
    assert OTHER in after["deliveries"] and OTHER_SUBJECT in after["escalations"]
    rows = {row["_id"]: row for row in board}
    assert (rows["t-1"]["subject"], rows["t-1"]["customer"]) == (None, None)
    assert (rows["t-2"]["subject"], rows["t-2"]["customer"]) == (OTHER_SUBJECT, OTHER)
    assert blanked[-1]["customer"] is None and blanked[-1]["assignee_id"] == "ag-nika"
    await service.mongo.close()


async def test_the_board_after_an_erasure_shows_the_ticket_without_the_person(
    make_settings: Any,
) -> None:
    service, settings = await start_notifier(make_settings)
    topics = settings.topics
    erased = CustomerErased(
        customer_id="cu-eleni",
        customer_ids=["cu-eleni"],
        ticket_ids=["t-1"],
        identities=[f"name:{NAME}"],
        requested_by="mgr-technical",
    )
    async with running(service) as broker, served(service) as port:
        await broker.publish(
            opened("t-1", "cu-eleni", NAME, "Router down").model_dump(mode="json"), topics.tickets
        )
        await broker.publish(make_assigned("t-1").model_dump(mode="json"), topics.routing)
        await broker.publish(erased.model_dump(mode="json"), topics.customers)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            board = (await client.get("/board", headers=bearer("ag-nika"))).json()

    [row] = board["tickets"]
    assert (row["ticket_id"], row["subject"], row["customer"]) == ("t-1", None, None)
    await service.mongo.close()
