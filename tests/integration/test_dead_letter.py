"""Dead-lettering on the real broker through the consumer kit: reason, partition and offset of
each bad record of a batch; the good record beside them is processed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.kb.app import build_app
from services.kb.settings import KbSettings
from shared.events import TicketOpened
from tests.conftest import eventually

pytestmark = pytest.mark.integration


async def test_a_poison_message_is_dead_lettered_and_the_next_one_is_processed(
    make_settings: Any,
) -> None:
    settings = make_settings(KbSettings)
    service = build_app(settings)
    await service.start()
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers)
    await producer.start()
    watcher = AIOKafkaConsumer(
        settings.topics.deadletter,
        settings.topics.kb,
        bootstrap_servers=settings.kafka.bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
    )
    await watcher.start()
    seen: list[tuple[str, dict[str, Any]]] = []

    async def collect() -> bool:
        for records in (await watcher.getmany(timeout_ms=200)).values():
            seen.extend((r.topic, json.loads(r.value)) for r in records)
        # The kit sends a batch's events, then its dead letters: wait for both.
        letters = sum(topic == settings.topics.deadletter for topic, _ in seen)
        return letters >= 2 and any(topic == settings.topics.kb for topic, _ in seen)

    try:
        poison = await producer.send_and_wait(
            settings.topics.tickets, b"\xff\xfe garbage", key=b"t-9"
        )
        # Headers that are not UTF-8 do not stop the kit: the record is judged on its body,
        # and this body is no ticket event.
        bad = await producer.send_and_wait(
            settings.topics.tickets,
            b'{"event_type": "ticket.opened", "ticket_id": "t-9"}',
            key=b"t-9",
            headers=[("origin", b"\xff\xfe")],
        )
        good = TicketOpened(
            ticket_id="t-9",
            reference="HD-XXXXXX",
            contact_id="c-9",
            customer_id="cu-9",
            channel="email",
            subject="Password",
            body="I forgot my password",
        )
        await producer.send_and_wait(
            settings.topics.tickets, good.model_dump_json().encode(), key=b"t-9"
        )
        await eventually(collect, timeout=30)
    finally:
        await watcher.stop()
        await producer.stop()
        await service.stop()

    letters = [v for topic, v in seen if topic == settings.topics.deadletter]
    assert [(v["partition"], v["offset"]) for v in letters] == [
        (poison.partition, poison.offset),
        (bad.partition, bad.offset),
    ]
    assert all(v["source_topic"] == settings.topics.tickets for v in letters)
    assert all(v["original_key"] == "t-9" for v in letters)
    assert all(v["consumer_group"] == "helpdesk-kb" for v in letters)
    assert letters[0]["reason"].startswith("JSONDecodeError")
    assert letters[1]["reason"].startswith("invalid message")
    assert "ticket.opened.reference: Field required" in letters[1]["reason"]
    assert letters[1]["original_headers"]["origin"] == "\ufffd\ufffd"
    suggested = [v for topic, v in seen if topic == settings.topics.kb]
    assert suggested[0]["ticket_id"] == "t-9"
    assert suggested[0]["articles"][0]["article_id"] == "password-reset"
