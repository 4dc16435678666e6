"""The local stack itself: real protocols, clean stops, and data kept on disk when asked."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pymongo import AsyncMongoClient

from devstack.stack import LocalStack
from tests.conftest import eventually

pytestmark = pytest.mark.integration


def _port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1].split("/")[0])


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def test_data_dir_keeps_messages_and_documents_across_restarts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with LocalStack(data_dir=data) as first:
        producer = AIOKafkaProducer(bootstrap_servers=first.bootstrap_servers)
        await producer.start()
        await producer.send_and_wait("kept.topic", b"still here", key=b"k")
        await producer.stop()
        mongo: AsyncMongoClient[dict[str, str]] = AsyncMongoClient(first.mongo_url)
        await mongo["kept"]["docs"].insert_one({"_id": "d1", "text": "still here"})
        await mongo.close()
    assert not _answers(_port_of(first.bootstrap_servers))
    assert not _answers(_port_of(first.mongo_url.removeprefix("mongodb://")))

    with LocalStack(data_dir=data) as second:
        consumer = AIOKafkaConsumer(
            "kept.topic",
            bootstrap_servers=second.bootstrap_servers,
            group_id=None,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            batches = await consumer.getmany(timeout_ms=10_000)
        finally:
            await consumer.stop()
        values = [r.value for records in batches.values() for r in records]
        mongo = AsyncMongoClient(second.mongo_url)
        doc = await mongo["kept"]["docs"].find_one({"_id": "d1"})
        await mongo.close()
    assert values == [b"still here"]
    assert doc == {"_id": "d1", "text": "still here"}


async def test_the_database_sweeps_expired_documents_at_the_stacks_interval() -> None:
    with LocalStack(mongo_cache="3G", expiry_sweep_seconds=1) as endpoints:
        mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(endpoints.mongo_url)
        log = mongo["stack"]["log"]
        await log.create_index("at", expireAfterSeconds=0)
        await log.insert_one({"_id": "old", "at": datetime(2020, 1, 1, tzinfo=UTC)})

        # SecantusDB's own default sweeps once a minute: gone within seconds only if the
        # stack's setting reached the server.
        async def gone() -> bool:
            return await log.count_documents({}) == 0

        assert await eventually(gone, timeout=15, interval=0.2)
        await mongo.close()
