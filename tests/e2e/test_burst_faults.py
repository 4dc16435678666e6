"""A burst of 5,000 contacts through all five services while each service in turn is SIGKILLed
mid-batch and started again: nothing is lost, nothing is opened twice, every breach goes out
under one id, and nothing is dead-lettered.

Most contacts are new mail; some are replies that join an earlier ticket by its Message-ID.
Billing tickets have targets of seconds, so their breaches fire during the run.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiosmtpd.controller import Controller

from devstack.chaos import Seen, fast_billing_config, read_all
from devstack.pipeline import SERVICES, Pipeline, run_topics, topic_env
from devstack.stack import StackEndpoints, free_port
from shared.events import ContactReceived
from shared.ids import ticket_id_for_contact
from shared.settings import TopicSettings
from tests.conftest import eventually

pytestmark = pytest.mark.e2e

CONTACTS = 5000
REPLY_EVERY = 10  # every 10th contact replies to the mail sent just before it
BILLING_EVERY = 100  # every 100th opens a billing ticket, whose targets are seconds long
FIRST_RESPONSE = "PT15S"
RESOLUTION = "PT25S"


@dataclass
class Burst:
    contacts: list[ContactReceived]
    opens: dict[str, str]  # contact id -> the ticket it opens
    joins: dict[str, str]  # contact id -> the ticket it joins
    billing: set[str]  # tickets with short targets


def build_burst(run: str) -> Burst:
    burst = Burst([], {}, {}, set())
    for i in range(CONTACTS):
        customer = f"cust{i % 400}-{run}@example.com"
        if i % REPLY_EVERY == REPLY_EVERY - 1:
            parent = burst.contacts[-1]
            burst.contacts.append(
                ContactReceived(
                    contact_id=f"{run}-{i}",
                    message={
                        "channel": "email",
                        "from_address": parent.message.from_address,  # type: ignore[union-attr]
                        "subject": "Re: " + parent.message.subject,  # type: ignore[union-attr]
                        "body": "It happened again this morning.",
                        "in_reply_to": f"<{parent.contact_id}@mail.example>",
                    },
                )
            )
            burst.joins[f"{run}-{i}"] = burst.opens[parent.contact_id]
            continue
        billing = i % BILLING_EVERY == 0
        contact = ContactReceived(
            contact_id=f"{run}-{i}",
            message={
                "channel": "email",
                "from_address": customer,
                "subject": "Invoice charged twice" if billing else "Wifi keeps disconnecting",
                "body": "You charged my card twice for the invoice, please refund it."
                if billing
                else f"The router drops the network every few minutes, case {i}.",
                "message_id": f"<{run}-{i}@mail.example>",
            },
        )
        burst.contacts.append(contact)
        ticket = ticket_id_for_contact(contact.contact_id)
        burst.opens[contact.contact_id] = ticket
        if billing:
            burst.billing.add(ticket)
    return burst


class Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


def flowing(seen: Seen, topics: TopicSettings) -> int:
    """How many ticket and routing events have gone by: work flowing through the services."""
    return len(seen.by_topic[topics.tickets]) + len(seen.by_topic[topics.routing])


@pytest.fixture
async def pipeline(
    stack: StackEndpoints, tmp_path: Path
) -> AsyncIterator[tuple[Pipeline, TopicSettings]]:
    suffix = uuid.uuid4().hex[:8]
    smtp = Controller(Sink(), hostname="127.0.0.1", port=free_port())
    smtp.start()
    env = {
        **topic_env(suffix),
        "HELPDESK_CONFIG_DIR": str(
            fast_billing_config(
                tmp_path / "config", first_response=FIRST_RESPONSE, resolution=RESOLUTION
            )
        ),
        "HELPDESK_MONGO__DATABASE_PREFIX": f"burst{suffix}_",
        "HELPDESK_KAFKA__SESSION_TIMEOUT_MS": "6000",
        "HELPDESK_KAFKA__HEARTBEAT_INTERVAL_MS": "500",
        "HELPDESK_SMTP_PORT": str(smtp.port),
        "HELPDESK_LOGGING__LEVEL": "WARNING",
        "HELPDESK_LOGGING__FORMAT": "json",
    }
    topics = run_topics(suffix)
    running = Pipeline(stack, env=env, log_dir=tmp_path / "logs")
    try:
        running.start()
        yield running, topics
    finally:
        running.stop()
        smtp.stop()


async def test_a_burst_survives_each_service_killed_mid_batch(
    pipeline: tuple[Pipeline, TopicSettings], stack: StackEndpoints
) -> None:
    running, topics = pipeline
    burst = build_burst(uuid.uuid4().hex[:6])
    seen = Seen()
    reader = asyncio.create_task(read_all(stack, topics, seen))
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers, linger_ms=5)
    await producer.start()
    try:
        sent = [
            await producer.send(topics.contacts, c.model_dump_json().encode(), c.kafka_key())
            for c in burst.contacts
        ]
        await asyncio.gather(*sent)
        kills: list[tuple[str, int]] = []
        for name in SERVICES:
            # Kill it while work is flowing through it: a batch is in hand, not committed.
            at = flowing(seen, topics)

            def moved_on(at: int = at) -> bool:
                done = len(seen.events(topics.routing, "ticket.routed")) >= len(burst.opens)
                return done or flowing(seen, topics) > at + 200

            await eventually(moved_on, timeout=120)
            running.kill(name)
            kills.append((name, len(seen.events(topics.tickets, "ticket.opened"))))
            running.restart(name)

        def everything_through() -> bool:
            appended = {
                e["contact_id"] for e in seen.events(topics.tickets, "ticket.contact_appended")
            }
            opened = {e["ticket_id"] for e in seen.events(topics.tickets, "ticket.opened")}
            routed = {e["ticket_id"] for e in seen.events(topics.routing, "ticket.routed")}
            started = {e["ticket_id"] for e in seen.events(topics.sla, "sla.started")}
            suggested = {e["ticket_id"] for e in seen.events(topics.kb, "kb.suggested")}
            breached = {
                (e["ticket_id"], e["metric"]) for e in seen.events(topics.sla, "sla.breached")
            }
            tickets = set(burst.opens.values())
            return (
                set(burst.joins) <= appended
                and tickets <= opened
                and tickets <= routed
                and tickets <= started
                and tickets <= suggested
                and {(t, "resolution") for t in burst.billing} <= breached
            )

        await eventually(everything_through, timeout=900, interval=1.0)
    finally:
        await producer.stop()
        reader.cancel()

    report = f"kills (service, tickets opened when killed): {kills}"
    letters = seen.by_topic[topics.deadletter]
    assert letters == [], [letter.get("reason") for letter in letters][:5]
    opened_ids: dict[str, set[str]] = defaultdict(set)
    for event in seen.events(topics.tickets, "ticket.opened"):
        opened_ids[event["ticket_id"]].add(event["event_id"])
    assert set(opened_ids) == set(burst.opens.values()), report
    assert {t: ids for t, ids in opened_ids.items() if len(ids) != 1} == {}, report
    joined: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for event in seen.events(topics.tickets, "ticket.contact_appended"):
        joined[event["contact_id"]].add((event["ticket_id"], event["event_id"]))
    assert {c: {t for t, _ in ids} for c, ids in joined.items()} == {
        c: {t} for c, t in burst.joins.items()
    }, report
    assert {c: ids for c, ids in joined.items() if len(ids) != 1} == {}, report
    breaches: dict[tuple[str, str, int], set[str]] = defaultdict(set)
    for event in seen.events(topics.sla, "sla.breached"):
        breaches[(event["ticket_id"], event["metric"], event["cycle"])].add(event["event_id"])
    assert {k for k in breaches if k[0] not in burst.billing} == set(), report
    assert {k: ids for k, ids in breaches.items() if len(ids) != 1} == {}, report
    assert {(t, m) for t, m, _ in breaches} >= {(t, "resolution") for t in burst.billing}
