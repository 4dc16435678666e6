"""Deadlines survive a restart and a dead replica, on the real broker and database.

Each test arms real tickets through Kafka, then takes the SLA service away between arming
and deadline, and reads the SLA topic from the start: every breach must be there once.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from devstack.pipeline import Pipeline
from devstack.sla_config import write_fast_sla
from devstack.stack import StackEndpoints
from services.sla.app import build_app
from services.sla.settings import SlaSettings
from shared.broker import make_broker, publish_event
from shared.clock import SystemClock
from shared.events import TicketRouted, sla_events
from shared.mongo import make_mongo_client
from tests.conftest import ROOT, eventually

pytestmark = pytest.mark.integration


def _routed(ticket_id: str) -> TicketRouted:
    return TicketRouted(
        ticket_id=ticket_id,
        category="network",
        impact="low",
        urgency="low",
        priority="P4",
        tier="L1",
        team="technical",
        reason="restart test",
    )


async def _route(settings: SlaSettings, ticket_ids: list[str]) -> None:
    producer = make_broker(settings)
    await producer.start()
    try:
        for ticket_id in ticket_ids:
            await publish_event(producer, settings.topics.routing, _routed(ticket_id))
    finally:
        await producer.stop()


async def _read_all(bootstrap_servers: str, topic: str) -> list[dict[str, Any]]:
    """Every record on the topic up to its current end, read without a consumer group."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[dict[str, Any]] = []
    try:

        async def caught_up() -> bool:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(sla_events.validate_json(r.value).model_dump() for r in batch)
            assignment = consumer.assignment()
            if not assignment:
                return False
            ends = await consumer.end_offsets(list(assignment))
            return all([await consumer.position(tp) >= end for tp, end in ends.items()])

        await eventually(caught_up, timeout=20.0)
    finally:
        await consumer.stop()
    return records


def _assert_once_each(records: list[dict[str, Any]], ticket_ids: list[str]) -> list[dict[str, Any]]:
    """One first-response breach per ticket, no event twice, no warning level twice."""
    ids = Counter(str(r["event_id"]) for r in records)
    assert [i for i, n in ids.items() if n > 1] == []
    breaches = [
        r for r in records if r["event_type"] == "sla.breached" and r["metric"] == "first_response"
    ]
    assert sorted(r["ticket_id"] for r in breaches) == sorted(ticket_ids)
    warned = Counter(
        (r["ticket_id"], r["metric"], r["level_percent"])
        for r in records
        if r["event_type"] == "sla.warning"
    )
    assert [key for key, n in warned.items() if n > 1] == []
    return breaches


async def test_every_breach_fires_once_when_the_service_restarts_before_the_deadlines(
    make_settings: Any, tmp_path: Path
) -> None:
    config = write_fast_sla(tmp_path, first_response="PT10S", resolution="PT1H")
    settings = make_settings(SlaSettings, config_dir=config)
    ticket_ids = [f"t-restart-{n}" for n in range(6)]

    first = build_app(settings)
    await first.start()
    try:
        await _route(settings, ticket_ids)
        tickets = first.db["tickets"]

        async def all_armed() -> bool:
            return await tickets.count_documents({"next_at": {"$ne": None}}) == len(ticket_ids)

        await eventually(all_armed, timeout=30.0)
        docs = await tickets.find({}).to_list()
    finally:
        await first.stop()

    dues = [c["due_at"] for d in docs for c in d["clocks"] if c["metric"] == "first_response"]
    assert {d["partition"] for d in docs} <= set(range(settings.kafka.partitions))
    assert SystemClock().now() < min(dues), "the first instance outlived a deadline"

    second = build_app(settings)
    await second.start()
    try:

        async def all_breached() -> bool:
            query = {
                "clocks": {"$elemMatch": {"metric": "first_response", "breached_at": {"$ne": None}}}
            }
            return await second.db["tickets"].count_documents(query) == len(ticket_ids)

        await eventually(all_breached, timeout=40.0)
    finally:
        await second.stop()

    records = await _read_all(settings.kafka.bootstrap_servers, settings.topics.sla)
    _assert_once_each(records, ticket_ids)


def _replica_env(settings: SlaSettings) -> dict[str, str]:
    env = {
        f"HELPDESK_TOPICS__{name.upper()}": value
        for name, value in settings.topics.model_dump().items()
    }
    return {
        **env,
        "HELPDESK_MONGO__DATABASE_PREFIX": settings.mongo.database_prefix,
        "HELPDESK_CONFIG_DIR": str(settings.config_dir),
        "HELPDESK_KAFKA__SESSION_TIMEOUT_MS": str(settings.kafka.session_timeout_ms),
        "HELPDESK_KAFKA__HEARTBEAT_INTERVAL_MS": str(settings.kafka.heartbeat_interval_ms),
        "HELPDESK_LOGGING__FORMAT": "json",
    }


def _owned(log: Path) -> set[int]:
    """The partitions a replica holds now, from its own log of loads and revocations."""
    owned: set[int] = set()
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if entry.get("event") == "sla.partitions_loaded":
            owned |= set(entry["partitions"])
        elif entry.get("event") == "sla.partitions_revoked":
            owned -= set(entry["partitions"])
    return owned


async def test_two_replicas_split_the_partitions_and_the_survivor_fires_the_dead_ones_on_time(
    make_settings: Any, stack: StackEndpoints, tmp_path: Path
) -> None:
    config = write_fast_sla(tmp_path / "config", first_response="PT30S", resolution="PT1H")
    # A service process reads the directory of people beside its own rules (its routes' access).
    shutil.copy(ROOT / "config" / "teams.yaml", config / "teams.yaml")
    settings = make_settings(SlaSettings, config_dir=config)
    env = _replica_env(settings)
    replicas = [
        Pipeline(stack, env=env, log_dir=tmp_path / f"replica-{n}", services=("sla",))
        for n in range(2)
    ]
    logs = [tmp_path / f"replica-{n}" / "sla.log" for n in range(2)]
    mongo = make_mongo_client(settings.mongo)
    try:
        for replica in replicas:
            replica.start()
        every = set(range(settings.kafka.partitions))

        def settled() -> list[set[int]] | None:
            owned = [_owned(log) for log in logs]
            split = all(owned) and owned[0].isdisjoint(owned[1]) and owned[0] | owned[1] == every
            return owned if split else None

        split = await eventually(settled, timeout=40.0)

        ticket_ids = [f"t-split-{uuid.uuid4().hex[:8]}" for _ in range(12)]
        await _route(settings, ticket_ids)
        tickets = mongo[settings.database_name]["tickets"]

        async def all_armed() -> list[dict[str, Any]] | None:
            docs = await tickets.find({"next_at": {"$ne": None}}).to_list()
            return docs if len(docs) == len(ticket_ids) else None

        docs = await eventually(all_armed, timeout=30.0)
        victim = replicas[0].running["sla"].process
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
        orphaned = {d["_id"] for d in docs if d["partition"] in split[0]}
        assert orphaned, "the killed replica owned none of the tickets"

        async def all_breached() -> bool:
            query = {
                "clocks": {"$elemMatch": {"metric": "first_response", "breached_at": {"$ne": None}}}
            }
            return await tickets.count_documents(query) == len(ticket_ids)

        await eventually(all_breached, timeout=60.0)
        assert _owned(logs[1]) == every
    finally:
        for replica in replicas:
            replica.stop()
        await mongo.close()

    records = await _read_all(settings.kafka.bootstrap_servers, settings.topics.sla)
    breaches = _assert_once_each(records, ticket_ids)
    for breach in breaches:
        fired = datetime.fromisoformat(str(breach["occurred_at"]))
        assert breach["late_by_seconds"] < 1.0, (breach["ticket_id"], breach["late_by_seconds"])
        assert fired >= breach["due_at"]
