"""Intake killed mid-stream opens each ticket once, on the real broker and database.

A stream of emails, replies, chats and calls (some sent twice by a retrying adapter) flows into
an intake process, which is frozen and SIGKILLed just after publishing a contact's events and
before marking the contact event processed (the mark says its decision is out); a fresh process
finishes the stream. Every opening contact must
have opened one ticket, announced under one `ticket.opened` event id.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from devstack.pipeline import Pipeline, topic_env
from devstack.stack import StackEndpoints
from services.intake.settings import IntakeSettings
from shared.events import CallRecord, ChatMessage, ContactReceived, EmailMessage
from shared.idempotency import COLLECTION as PROCESSED
from shared.ids import ticket_id_for_contact
from shared.mongo import make_mongo_client
from shared.settings import KafkaSettings
from tests.conftest import eventually

pytestmark = pytest.mark.integration

CUSTOMERS = 60
EMAILS = 230
CHATS = 20
CHAT_MESSAGES = 3
CALLS = 10
RESENT = 20
# Events a single consumer can have published but not yet marked when it dies: one batch of
# contacts, each with at most two events (a reopen and the contact joining).
MAX_WIRE_DUPLICATES = 2 * KafkaSettings().max_batch


@dataclass
class Stream:
    """The contacts to publish in order, and what each should do to the tickets."""

    records: list[ContactReceived] = field(default_factory=list)
    opens: dict[str, str] = field(default_factory=dict)  # contact id -> its new ticket id
    appends: dict[str, str] = field(default_factory=dict)  # contact id -> the ticket it joins

    @property
    def contact_ids(self) -> set[str]:
        return {c.contact_id for c in self.records}


def _email(run: str, customer: int, n: int) -> ContactReceived:
    """A customer's n-th mail: even ones start a topic, odd ones reply to the one before."""
    address = f"customer{customer:02d}@example.com"
    replying = n % 2 == 1
    parent = f"<{run}.{customer}.{n - 1}@mail.example.com>"
    subject = f"Invoice {customer}-{n - n % 2} charged twice on card ending {1000 + customer}"
    return ContactReceived(
        contact_id=f"mail-{run}-{customer}-{n}",
        message=EmailMessage(
            channel="email",
            from_address=address,
            to_address="support@helpdesk.example",
            subject=f"Re: {subject}" if replying else subject,
            body=f"Message {n} from customer {customer}: please look at the charge again.",
            message_id=f"<{run}.{customer}.{n}@mail.example.com>",
            in_reply_to=parent if replying else None,
            references=[parent] if replying else [],
        ),
    )


def _chat(run: str, visitor: int, n: int) -> ContactReceived:
    return ContactReceived(
        contact_id=f"chat-{run}-{visitor}-{n}",
        message=ChatMessage(
            channel="chat",
            chat_user_id=f"visitor-{run}-{visitor}",
            conversation_id=f"conv-{run}-{visitor}",
            text=f"Chat line {n}: the mobile app logs me out every few minutes.",
        ),
    )


def _call(run: str, caller: int) -> ContactReceived:
    return ContactReceived(
        contact_id=f"call-{run}-{caller}",
        message=CallRecord(
            channel="phone",
            caller_number=f"+30210555{caller:04d}",
            line="+302101234567",
            duration_seconds=120,
            summary=f"Caller {caller} cannot reach the VPN from the office.",
        ),
    )


def build_stream(run: str, seed: int = 7) -> Stream:
    """Interleave every conversation's contacts (keeping each one's order) and resend some."""
    stream = Stream()
    queues: list[list[ContactReceived]] = [[] for _ in range(CUSTOMERS)]
    for n in range(EMAILS):
        customer = n % CUSTOMERS
        contact = _email(run, customer, len(queues[customer]))
        queues[customer].append(contact)
    for visitor in range(CHATS):
        queues.append([_chat(run, visitor, n) for n in range(CHAT_MESSAGES)])
    queues.extend([_call(run, caller)] for caller in range(CALLS))
    for queue in queues:
        ticket_id = ""
        for contact in queue:
            message = contact.message
            new_topic = isinstance(message, EmailMessage) and not message.in_reply_to
            if contact is queue[0] or new_topic:
                ticket_id = ticket_id_for_contact(contact.contact_id)
                stream.opens[contact.contact_id] = ticket_id
            else:
                stream.appends[contact.contact_id] = ticket_id

    rng = random.Random(seed)
    order: list[ContactReceived] = []
    pending = [q for q in queues if q]
    while pending:
        queue = rng.choice(pending)
        order.append(queue.pop(0))
        pending = [q for q in pending if q]
    # An adapter retrying: the same contact id under a new event id, a little later on its key.
    step = len(order) // RESENT
    placed: list[tuple[float, ContactReceived]] = [(float(i), c) for i, c in enumerate(order)]
    for i in range(0, step * RESENT, step):
        resent = order[i].model_copy(update={"event_id": uuid4()})
        placed.append((i + rng.randint(0, 12) + 0.5, resent))
    stream.records = [c for _, c in sorted(placed, key=lambda p: p[0])]
    return stream


async def publish(bootstrap_servers: str, topic: str, contacts: list[ContactReceived]) -> None:
    """Publish like a channel adapter: JSON, keyed by the customer's channel identity."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers)
    await producer.start()
    try:
        sent = [
            await producer.send(topic, c.model_dump_json().encode(), key=c.kafka_key())
            for c in contacts
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


class TopicReader:
    """Reads topics from their start, without a consumer group, up to their current end."""

    def __init__(self, bootstrap_servers: str, *topics: str) -> None:
        self.topics = set(topics)
        self.records: list[tuple[str, dict[str, Any]]] = []
        self._consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap_servers,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            # Read while intake is frozen: an empty fetch must not hold the reader long.
            fetch_max_wait_ms=20,
        )

    async def start(self) -> None:
        await self._consumer.start()

    async def stop(self) -> None:
        await self._consumer.stop()

    async def _at_end(self) -> bool:
        for batch in (await self._consumer.getmany(timeout_ms=20)).values():
            self.records.extend((r.topic, json.loads(r.value)) for r in batch)
        assignment = self._consumer.assignment()
        if {tp.topic for tp in assignment} != self.topics:
            return False
        ends = await self._consumer.end_offsets(list(assignment))
        return all([await self._consumer.position(tp) >= end for tp, end in ends.items()])

    async def catch_up(self) -> list[tuple[str, dict[str, Any]]]:
        await eventually(self._at_end, timeout=20.0, interval=0.001)
        return self.records

    def event_ids(self, topic: str) -> set[str]:
        return {str(value["event_id"]) for t, value in self.records if t == topic}


def _env(settings: IntakeSettings, run_id: str) -> dict[str, str]:
    return {
        **topic_env(run_id),
        "HELPDESK_MONGO__DATABASE_PREFIX": settings.mongo.database_prefix,
        "HELPDESK_CONFIG_DIR": str(settings.config_dir),
        "HELPDESK_KAFKA__SESSION_TIMEOUT_MS": str(settings.kafka.session_timeout_ms),
        "HELPDESK_KAFKA__HEARTBEAT_INTERVAL_MS": str(settings.kafka.heartbeat_interval_ms),
        "HELPDESK_LOGGING__FORMAT": "json",
    }


def _ids_per_ticket(events: list[dict[str, Any]], event_type: str, by: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for event in events:
        if event["event_type"] == event_type:
            found[event[by]].add(event["event_id"])
    return found


async def test_a_killed_intake_opens_every_ticket_once_and_announces_it_once(
    make_settings: Any,
    stack: StackEndpoints,
    run_id: str,
    tmp_path: Path,
) -> None:
    settings = make_settings(IntakeSettings)
    assert settings.topics.model_dump() == {
        name.removeprefix("HELPDESK_TOPICS__").lower(): value
        for name, value in topic_env(run_id).items()
    }
    stream = build_stream(run_id)
    assert len(stream.contact_ids) == EMAILS + CHATS * CHAT_MESSAGES + CALLS
    assert len(stream.records) == len(stream.contact_ids) + RESENT
    # The adapters keep sending while intake is down: the rest goes out after the kill.
    cut = len(stream.records) * 3 // 5
    before, after = stream.records[:cut], stream.records[cut:]
    assert {c.contact_id for c in after} & set(stream.opens)
    env = _env(settings, run_id)
    mongo = make_mongo_client(settings.mongo)
    db = mongo[settings.database_name]
    every_event = [f"contact:{c.event_id}" for c in stream.records]
    first = Pipeline(stack, env=env, log_dir=tmp_path / "first", services=("intake",))
    second = Pipeline(stack, env=env, log_dir=tmp_path / "second", services=("intake",))
    reader = TopicReader(
        settings.kafka.bootstrap_servers, settings.topics.tickets, settings.topics.deadletter
    )
    try:
        first.start()
        await reader.start()
        await publish(settings.kafka.bootstrap_servers, settings.topics.contacts, before)

        async def a_third_opened() -> int:
            opened = await db["tickets"].count_documents({})
            return opened if opened >= len(stream.opens) // 3 else 0

        await eventually(a_third_opened, timeout=40.0)
        victim = first.running["intake"].process
        attempts = 0

        async def frozen_after_publishing() -> str | None:
            """Freeze intake; keep it frozen only once a contact's events are on the topic and
            before its decision is marked published: a crash there makes the next process
            publish them again, which is the case where duplicates could appear."""
            nonlocal attempts
            attempts += 1
            os.kill(victim.pid, signal.SIGSTOP)
            await reader.catch_up()
            out = reader.event_ids(settings.topics.tickets)
            marked = {d["_id"] async for d in db[PROCESSED].find({}, {"_id": 1})}
            async for decision in db["contact_decisions"].find({}):
                if f"contact:{decision['event_id']}" not in marked and all(
                    e["event_id"] in out for e in decision["events"]
                ):
                    return str(decision["_id"])
            os.kill(victim.pid, signal.SIGCONT)
            return None

        frozen = await eventually(frozen_after_publishing, timeout=30.0, interval=0.001)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
        left = await db["contact_decisions"].find_one({"_id": frozen})
        mark = f"contact:{left['event_id']}" if left else ""
        at_kill = {
            "attempts": attempts,
            "contact": frozen,
            "left_unpublished": left is not None
            and await db[PROCESSED].find_one({"_id": mark}) is None,
            "tickets": await db["tickets"].count_documents({}),
            "decided": await db["contact_decisions"].count_documents({}),
            "handled": await db[PROCESSED].count_documents({}),
        }

        await publish(settings.kafka.bootstrap_servers, settings.topics.contacts, after)
        second.start()

        async def all_handled() -> bool:
            handled = await db[PROCESSED].count_documents({"_id": {"$in": every_event}})
            decided = await db["contact_decisions"].count_documents({})
            return handled == len(every_event) and decided == len(stream.contact_ids)

        await eventually(all_handled, timeout=60.0)
        tickets = await db["tickets"].find({}).to_list()
        records = await reader.catch_up()
    finally:
        first.stop()
        second.stop()
        await reader.stop()
        await mongo.close()

    letters = [value for topic, value in records if topic == settings.topics.deadletter]
    assert letters == [], [letter["reason"] for letter in letters]
    events = [value for topic, value in records if topic == settings.topics.tickets]
    raw = Counter(str(e["event_id"]) for e in events)
    duplicates = sum(n - 1 for n in raw.values())
    report = f"at the kill: {at_kill}; {duplicates} records repeated on the tickets topic"

    # In MongoDB: each opening contact opened its ticket, and nothing else opened one.
    per_ticket = Counter(t["_id"] for t in tickets)
    assert [t for t, n in per_ticket.items() if n != 1] == [], report
    assert sorted(per_ticket) == sorted(stream.opens.values()), report
    assert {t["contact_id"]: t["_id"] for t in tickets} == stream.opens, report
    joined = [
        (h["contact_id"], t["_id"])
        for t in tickets
        for h in t["history"]
        if h["event_type"] == "ticket.contact_appended"
    ]
    assert sorted(joined) == sorted(stream.appends.items()), report

    # On the wire: one event id per ticket opened and per contact appended; repeats share it.
    opened = _ids_per_ticket(events, "ticket.opened", "ticket_id")
    assert {t: len(ids) for t, ids in opened.items() if len(ids) != 1} == {}, report
    assert sorted(opened) == sorted(stream.opens.values()), report
    appended = _ids_per_ticket(events, "ticket.contact_appended", "contact_id")
    assert {c: len(ids) for c, ids in appended.items() if len(ids) != 1} == {}, report
    assert sorted(appended) == sorted(stream.appends), report
    assert {
        e["contact_id"]: e["ticket_id"]
        for e in events
        if e["event_type"] == "ticket.contact_appended"
    } == stream.appends, report
    assert {e["event_type"] for e in events} == {"ticket.opened", "ticket.contact_appended"}
    assert duplicates <= MAX_WIRE_DUPLICATES, report
    if at_kill["left_unpublished"]:
        # The contact caught mid-way went out again from the second process, under its id.
        again = [str(e["event_id"]) for e in events if e["contact_id"] == frozen]
        assert len(again) >= 2 and len(set(again)) == 1, report
