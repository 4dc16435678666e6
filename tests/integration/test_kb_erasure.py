"""Erasure through the real broker: a `customer.erased` on the customers topic reaches the
knowledge base's own consumer group, which erases the person's ticket records and searches."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from services.kb.app import build_app
from services.kb.settings import KbSettings
from shared.events import CustomerErased, TicketOpened
from tests.conftest import eventually

pytestmark = pytest.mark.integration


async def test_an_erasure_on_the_customers_topic_is_acted_on(make_settings: Any) -> None:
    settings = make_settings(KbSettings)
    service = build_app(settings)
    await service.start()
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers)
    await producer.start()
    db = service.db
    try:
        ticket = TicketOpened(
            ticket_id="t-erase",
            reference="HD-ERASE1",
            contact_id="c-erase",
            customer_id="cu-erase",
            channel="email",
            subject="Ana Silva forgot her password",
            body="I forgot my password",
        )
        await producer.send_and_wait(
            settings.topics.tickets, ticket.model_dump_json().encode(), key=b"t-erase"
        )

        async def noted() -> bool:
            return await db["tickets"].find_one({"_id": "t-erase"}) is not None

        await eventually(noted, timeout=30)
        await db["searches"].insert_one({"_id": "q-1", "query": "ana silva", "key": "ana silva"})
        erased = CustomerErased(
            customer_id="cu-erase",
            customer_ids=["cu-erase"],
            ticket_ids=["t-erase"],
            identities=["email:ana@example.com", "name:Ana Silva"],
            requested_by="mgr-accounts",
        )
        await producer.send_and_wait(
            settings.topics.customers, erased.model_dump_json().encode(), key=b"cu-erase"
        )

        async def gone() -> bool:
            ticket = await db["tickets"].find_one({"_id": "t-erase"})
            search = await db["searches"].find_one({"_id": "q-1"})
            return ticket is None and search is None

        await eventually(gone, timeout=30)
    finally:
        await producer.stop()
        await service.stop()
