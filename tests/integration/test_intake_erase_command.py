"""`python -m services.intake.erase`: a manager's command announces the erasure on Kafka."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from services.intake.erase import erase
from services.intake.settings import IntakeSettings
from shared.mongo import make_mongo_client
from tests.conftest import eventually

pytestmark = pytest.mark.integration


async def test_the_erase_command_announces_the_customer_and_their_tickets(
    make_settings: Any,
) -> None:
    settings: IntakeSettings = make_settings(IntakeSettings)
    mongo = make_mongo_client(settings.mongo)
    db = mongo[settings.database_name]
    await db["customers"].insert_one(
        {"_id": "cust-1", "identities": ["email:ana@example.com"], "plan": "standard"}
    )
    await db["tickets"].insert_one(
        {"_id": "t-1", "customer_id": "cust-1", "opened_at": 1, "opened_event": {}}
    )
    with pytest.raises(SystemExit, match="not a manager"):
        await erase("cust-1", "ag-nika", settings)
    done = await erase("cust-1", "mgr-accounts", settings)
    assert done["tickets"] == 1 and done["records"] == 1
    with pytest.raises(SystemExit, match="no customer"):
        await erase("cust-404", "mgr-accounts", settings)
    await mongo.close()

    reader = AIOKafkaConsumer(
        settings.topics.customers,
        bootstrap_servers=settings.kafka.bootstrap_servers,
        auto_offset_reset="earliest",
    )
    await reader.start()
    seen: list[dict[str, Any]] = []

    async def announced() -> bool:
        for records in (await reader.getmany(timeout_ms=200)).values():
            seen.extend(json.loads(r.value) for r in records)
        return bool(seen)

    try:
        await eventually(announced, timeout=30)
    finally:
        await reader.stop()
    (event,) = seen
    assert event["event_type"] == "customer.erased"
    assert event["event_id"] == done["event_id"]
    assert event["ticket_ids"] == ["t-1"] and event["requested_by"] == "mgr-accounts"
    assert "email:ana@example.com" in event["identities"]
