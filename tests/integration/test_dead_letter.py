"""Dead-lettering on the real broker: reason, partition and offset; the consumer goes on."""

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
        return any(topic == settings.topics.kb for topic, _ in seen)

    try:
        poison = await producer.send_and_wait(
            settings.topics.tickets, b"\xff\xfe garbage", key=b"t-9"
        )
        bad_header = await producer.send_and_wait(
            settings.topics.tickets, b"{}", key=b"t-9", headers=[("origin", b"\xff\xfe")]
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
        (bad_header.partition, bad_header.offset),
    ]
    assert all(v["source_topic"] == settings.topics.tickets for v in letters)
    assert all(v["original_key"] == "t-9" and v["reason"] for v in letters)
    assert "UnicodeDecodeError" in letters[1]["reason"]
    suggested = [v for topic, v in seen if topic == settings.topics.kb]
    assert suggested[0]["ticket_id"] == "t-9"
    assert suggested[0]["articles"][0]["article_id"] == "password-reset"
