"""Intake's subscriber and HTTP API, with FastStream's TestKafkaBroker and the real database."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from faststream.kafka import TestKafkaBroker

from services.intake.app import build_app
from services.intake.settings import IntakeSettings
from shared.events import ContactReceived, TicketOpened, ticket_events


def email_contact(contact_id: str, sender: str = "ana@example.com") -> ContactReceived:
    return ContactReceived(
        contact_id=contact_id,
        message={
            "channel": "email",
            "from_address": sender,
            "subject": "Wi-Fi",
            "body": "My wifi keeps dropping",
        },
    )


async def started(make_settings: Any) -> Any:
    settings = make_settings(IntakeSettings)
    service = build_app(settings)
    for hook in service.on_start:
        await hook()
    return settings, service


def capture(service: Any, topic: str) -> list[Any]:
    seen: list[Any] = []

    @service.broker.subscriber(topic)
    async def collect(body: Any) -> None:
        seen.append(body)

    return seen


async def test_a_contact_opens_one_ticket_even_when_delivered_twice(make_settings: Any) -> None:
    settings, service = await started(make_settings)
    opened = capture(service, settings.topics.tickets)
    contact = email_contact("mail-1")
    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(contact.model_dump(mode="json"), settings.topics.contacts)
        await broker.publish(contact.model_dump(mode="json"), settings.topics.contacts)

    events = [ticket_events.validate_python(b) for b in opened]
    assert len(events) == 1
    assert isinstance(events[0], TicketOpened)
    assert events[0].correlation_id == contact.contact_id
    db = service.mongo[settings.database_name]
    assert await db["tickets"].count_documents({}) == 1
    await service.mongo.close()


async def test_the_same_contact_republished_with_a_new_event_id_opens_no_second_ticket(
    make_settings: Any,
) -> None:
    settings, service = await started(make_settings)
    opened = capture(service, settings.topics.tickets)
    async with TestKafkaBroker(service.broker) as broker:
        for _ in range(2):
            await broker.publish(
                email_contact("mail-7").model_dump(mode="json"), settings.topics.contacts
            )

    ids = {ticket_events.validate_python(b).event_id for b in opened}
    assert len(ids) == 1
    assert await service.mongo[settings.database_name]["tickets"].count_documents({}) == 1
    await service.mongo.close()


async def test_customer_is_recognised_across_email_and_chat(make_settings: Any) -> None:
    settings, service = await started(make_settings)
    opened = capture(service, settings.topics.tickets)
    chat = ContactReceived(
        contact_id="chat-1",
        message={
            "channel": "chat",
            "chat_user_id": "w-9",
            "conversation_id": "conv-9",
            "email": "Ana@Example.com",
            "text": "Still no internet",
        },
    )
    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(
            email_contact("mail-2").model_dump(mode="json"), settings.topics.contacts
        )
        await broker.publish(chat.model_dump(mode="json"), settings.topics.contacts)

    first, second = (TicketOpened.model_validate(b) for b in opened)
    assert first.customer_id == second.customer_id
    assert first.ticket_id != second.ticket_id
    await service.mongo.close()


async def test_bad_contacts_reach_the_dead_letter_topic_and_good_ones_still_pass(
    make_settings: Any,
) -> None:
    settings, service = await started(make_settings)
    letters = capture(service, settings.topics.deadletter)
    opened = capture(service, settings.topics.tickets)
    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(
            {"event_type": "contact.received", "contact_id": "x", "message": {"channel": "fax"}},
            settings.topics.contacts,
        )
        await broker.publish(
            {
                "event_type": "contact.received",
                "contact_id": "y",
                "message": {"channel": "phone", "caller_number": "not a number"},
            },
            settings.topics.contacts,
        )
        await broker.publish(
            email_contact("mail-3").model_dump(mode="json"), settings.topics.contacts
        )

    assert [letter["source_topic"] for letter in letters] == [settings.topics.contacts] * 2
    assert "message" in letters[0]["reason"]
    assert "not a phone number" in letters[1]["reason"]
    assert len(opened) == 1
    await service.mongo.close()


async def test_http_contact_then_agent_reply_and_resolve(make_settings: Any) -> None:
    settings, service = await started(make_settings)
    published = capture(service, settings.topics.tickets)
    async with TestKafkaBroker(service.broker):
        transport = httpx.ASGITransport(app=service.http)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            bad = await client.post(
                "/contacts", json={"contact_id": "h-1", "message": {"channel": "sms"}}
            )
            assert bad.status_code == 422
            accepted = await client.post(
                "/contacts",
                json={
                    "contact_id": "h-1",
                    "message": {
                        "channel": "phone",
                        "caller_number": "+30 210 123 4567",
                        "outcome": "missed",
                    },
                },
            )
            assert accepted.status_code == 202
            ticket_id = accepted.json()["ticket_id"]

            ticket = (await client.get(f"/tickets/{ticket_id}")).json()
            assert ticket["status"] == "open" and ticket["channel"] == "phone"

            assert (
                await client.post(
                    f"/tickets/{ticket_id}/reply",
                    json={"agent_id": "ag-nika", "body": "Calling you back"},
                )
            ).status_code == 202
            assert (
                await client.post(f"/tickets/{ticket_id}/resolve", json={"agent_id": "ag-nika"})
            ).status_code == 202
            again = await client.post(f"/tickets/{ticket_id}/resolve", json={"agent_id": "ag-nika"})
            assert again.status_code == 409 and "already resolved" in again.json()["detail"]
            missing = await client.post("/tickets/nope/reply", json={"agent_id": "a", "body": "b"})
            assert missing.status_code == 404

            ticket = (await client.get(f"/tickets/{ticket_id}")).json()
            customer = (await client.get(f"/customers/{ticket['customer_id']}")).json()

    assert [h["event_type"] for h in ticket["history"]] == [
        "ticket.opened",
        "ticket.agent_replied",
        "ticket.status_changed",
    ]
    assert ticket["status"] == "resolved"
    assert customer["identities"] == ["phone:+302101234567"]
    assert [t["ticket_id"] for t in customer["tickets"]] == [ticket_id]
    types = [ticket_events.validate_python(b).event_type for b in published]
    assert types == ["ticket.opened", "ticket.agent_replied", "ticket.status_changed"]
    await service.mongo.close()


async def test_two_agents_resolving_at_once_change_the_status_once(make_settings: Any) -> None:
    settings, service = await started(make_settings)
    published = capture(service, settings.topics.tickets)
    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(
            email_contact("mail-race").model_dump(mode="json"), settings.topics.contacts
        )
        ticket_id = ticket_events.validate_python(published[0]).ticket_id
        transport = httpx.ASGITransport(app=service.http)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            answers = await asyncio.gather(
                *(
                    client.post(f"/tickets/{ticket_id}/resolve", json={"agent_id": agent})
                    for agent in ("ag-nika", "ag-sergei", "ag-maria")
                )
            )

    assert sorted(a.status_code for a in answers) == [202, 409, 409]
    resolved = [
        b
        for b in published
        if ticket_events.validate_python(b).event_type == "ticket.status_changed"
    ]
    assert len(resolved) == 1
    await service.mongo.close()
