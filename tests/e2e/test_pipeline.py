"""All five services as separate processes on the real local stack, observed from outside.

Contacts go in through a real Kafka producer; mail is captured by a real SMTP server; the
agent's console is a real WebSocket client. Deadlines are seconds long in this test's config.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
import websockets
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiosmtpd.controller import Controller
from pymongo import AsyncMongoClient

from devstack.pipeline import ROOT, Pipeline, RunSecrets, run_topics, topic_env
from devstack.sla_config import write_fast_sla
from devstack.stack import StackEndpoints, free_port
from shared.events import ContactReceived
from shared.ids import derived_id, ticket_id_for_contact, ticket_reference
from shared.settings import TopicSettings
from tests.conftest import eventually
from tests.e2e.mail import MailCatcher

pytestmark = pytest.mark.e2e

FIRST_RESPONSE_SECONDS = 8
RESOLUTION_SECONDS = 12
# One agent per team in config/teams.yaml: intake lets only the ticket's team act on it.
SURVEY_DELAY_SECONDS = 2
AGENT_OF_TEAM = {"technical": "ag-maria", "accounts": "ag-olga", "service-desk": "ag-dina"}
L2_NETWORK = ["ag-nika", "ag-sergei"]


@dataclass
class Observed:
    """Everything published on the run's topics, with the moment this test received it."""

    records: list[tuple[str, float, dict[str, Any] | bytes]] = field(default_factory=list)

    def events(self, topic: str, event_type: str | None = None) -> list[dict[str, Any]]:
        return [
            v
            for t, _, v in self.records
            if t == topic
            and isinstance(v, dict)
            and (event_type is None or v.get("event_type") == event_type)
        ]

    def received_at(self, event_id: str) -> float:
        return next(
            at for _, at, v in self.records if isinstance(v, dict) and v.get("event_id") == event_id
        )


@dataclass
class Run:
    topics: TopicSettings
    pipeline: Pipeline
    mail: MailCatcher
    db_prefix: str
    endpoints: StackEndpoints
    keys: RunSecrets


@pytest.fixture(scope="module")
def run(stack: StackEndpoints, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    suffix = uuid.uuid4().hex[:8]
    config_dir = tmp_path_factory.mktemp("config")
    shutil.copytree(ROOT / "config", config_dir, dirs_exist_ok=True)
    surveys = (config_dir / "insights.yaml").read_text(encoding="utf-8")
    (config_dir / "insights.yaml").write_text(
        surveys.replace("delay: PT24H", f"delay: PT{SURVEY_DELAY_SECONDS}S"), encoding="utf-8"
    )
    write_fast_sla(
        config_dir,
        first_response=f"PT{FIRST_RESPONSE_SECONDS}S",
        resolution=f"PT{RESOLUTION_SECONDS}S",
    )
    mail = MailCatcher()
    smtp_port = free_port()
    smtp = Controller(mail, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    # Agents' tokens are checked; contacts go unsigned (no adapter secrets in this run).
    keys = RunSecrets.generate(adapters=())
    env = {
        **topic_env(suffix),
        **keys.env(),
        "HELPDESK_CONFIG_DIR": str(config_dir),
        "HELPDESK_MONGO__DATABASE_PREFIX": f"e2e{suffix}_",
        "HELPDESK_KAFKA__SESSION_TIMEOUT_MS": "6000",
        "HELPDESK_KAFKA__HEARTBEAT_INTERVAL_MS": "500",
        "HELPDESK_SMTP_HOST": "127.0.0.1",
        "HELPDESK_SMTP_PORT": str(smtp_port),
        "HELPDESK_LOGGING__FORMAT": "json",
    }
    topics = run_topics(suffix)
    pipeline = Pipeline(
        stack,
        env=env,
        log_dir=tmp_path_factory.mktemp("logs"),
        service_env={"insights": {"HELPDESK_PUBLIC_URL": "{url}"}},
    )
    try:
        pipeline.start()
        yield Run(topics, pipeline, mail, f"e2e{suffix}_", stack, keys)
    finally:
        pipeline.stop()
        smtp.stop()


@pytest.fixture
async def observed(run: Run) -> AsyncIterator[Observed]:
    seen = Observed()
    consumer = AIOKafkaConsumer(
        *run.topics.all(),
        bootstrap_servers=run.endpoints.bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()

    async def pump() -> None:
        async for record in consumer:
            try:
                value: dict[str, Any] | bytes = json.loads(record.value)
            except ValueError:
                value = record.value
            seen.records.append((record.topic, time.time(), value))

    task = asyncio.create_task(pump())
    yield seen
    task.cancel()
    await consumer.stop()


def email_contact(contact_id: str) -> ContactReceived:
    return ContactReceived(
        contact_id=contact_id,
        language="en",
        message={
            "channel": "email",
            "from_address": "ana.silva@example.com",
            "subject": "Wifi keeps disconnecting",
            "body": "My wifi disconnects every few minutes. I restarted the router.",
        },
    )


async def test_an_email_becomes_a_routed_ticket_whose_breaches_reach_agent_and_manager(
    run: Run, observed: Observed
) -> None:
    topics = run.topics
    notifier = run.pipeline.running["notifier"]
    pushes: list[dict[str, Any]] = []
    # At 90% of the first-response target the router escalates the ticket from L1 (Maria) to
    # an L2 network engineer, who is then the one told of the breach: both listen.
    consoles = [
        await websockets.connect(
            f"ws://127.0.0.1:{notifier.port}/ws?token={run.keys.agent_token(agent)}"
        )
        for agent in L2_NETWORK
    ]

    async def listen(console: Any, agent: str) -> None:
        async for frame in console:
            pushes.append({**json.loads(frame), "console": agent})

    listeners = [
        asyncio.create_task(listen(c, a)) for c, a in zip(consoles, L2_NETWORK, strict=True)
    ]
    try:
        producer = AIOKafkaProducer(bootstrap_servers=run.endpoints.bootstrap_servers)
        await producer.start()
        try:
            contact = email_contact(f"mail-{uuid.uuid4().hex}")
            # One partition for all three, so the good contact really comes after the bad one.
            bad = await producer.send_and_wait(
                topics.contacts,
                b'{"event_type": "contact.received", "contact_id": ',
                key=b"bad",
                partition=0,
            )
            for _ in range(2):  # the same contact published twice
                await producer.send_and_wait(
                    topics.contacts,
                    contact.model_dump_json().encode(),
                    key=contact.kafka_key(),
                    partition=0,
                )
        finally:
            await producer.stop()
        ticket_id = ticket_id_for_contact(contact.contact_id)

        async def event_of(topic: str, event_type: str, **match: Any) -> dict[str, Any] | None:
            return next(
                (
                    e
                    for e in observed.events(topic, event_type)
                    if e.get("ticket_id") == ticket_id
                    and all(e.get(k) == v for k, v in match.items())
                ),
                None,
            )

        routed = await eventually(lambda: event_of(topics.routing, "ticket.routed"), timeout=60)
        assert (routed["category"], routed["subcategory"], routed["priority"], routed["team"]) == (
            "network",
            "wifi",
            "P2",
            "technical",
        )
        assigned = await eventually(lambda: event_of(topics.routing, "ticket.assigned"))
        assert assigned["agent_id"] == "ag-maria" and assigned["tier"] == "L1"

        letter = await eventually(lambda: next(iter(observed.events(topics.deadletter)), None))
        assert letter["source_topic"] == topics.contacts and letter["reason"]
        assert (letter["original_key"], letter["partition"], letter["offset"]) == (
            "bad",
            0,
            bad.offset,
        )

        suggested = await eventually(lambda: event_of(topics.kb, "kb.suggested"))
        assert suggested["articles"][0]["article_id"] == "wifi-drops"
        assert suggested["articles"][0]["language"] == "en"

        breach = await eventually(
            lambda: event_of(topics.sla, "sla.breached", metric="first_response"),
            timeout=FIRST_RESPONSE_SECONDS + 20,
        )
        due_at = datetime.fromisoformat(breach["due_at"]).timestamp()
        assert 0.0 <= observed.received_at(breach["event_id"]) - due_at <= 1.0
        assert breach["late_by_seconds"] < 1.0

        escalated = await eventually(lambda: event_of(topics.routing, "ticket.escalated"))
        assert escalated["trigger"] == "sla_warning" and escalated["to_tier"] == "L2"
        moved = await eventually(lambda: event_of(topics.routing, "ticket.transferred"))
        engineer = moved["to_agent_id"]
        assert moved["from_agent_id"] == "ag-maria" and engineer in L2_NETWORK
        engineer_address = f"{engineer.removeprefix('ag-')}@helpdesk.example"

        reference = ticket_reference(ticket_id)
        # The breach's email to the engineer carries a Message-ID made from its delivery key.
        breach_mail_id = derived_id("email", f"{breach['event_id']}:{engineer}:email")
        agent_mail = await eventually(
            lambda: next(
                (m for m in run.mail.messages if str(breach_mail_id) in m["message_id"]), None
            )
        )
        assert agent_mail["to"] == [engineer_address]
        assert agent_mail["subject"].startswith(f"[{reference}]")
        push = await eventually(
            lambda: next(
                (
                    p
                    for p in pushes
                    if p["type"] == "escalation"
                    and p["data"]["ticket_id"] == ticket_id
                    and p["console"] == engineer
                ),
                None,
            )
        )
        assert (push["data"]["metric"], push["data"]["rung"]) == ("first_response", 0)

        await eventually(
            lambda: event_of(topics.sla, "sla.breached", metric="resolution"),
            timeout=RESOLUTION_SECONDS + 20,
        )
        # The manager may get other mail too (last month's report, on a month's first working
        # day, once the desk has tickets of that month): the breach's is about this ticket.
        manager_mail = await eventually(
            lambda: next(
                (
                    m
                    for m in run.mail.messages
                    if "eleni.manager@helpdesk.example" in m["to"] and reference in m["subject"]
                ),
                None,
            )
        )
        assert manager_mail["subject"].startswith(f"[{reference}]")
    finally:
        for task in listeners:
            task.cancel()
        for console in consoles:
            await console.close()

    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(run.endpoints.mongo_url)
    try:
        tickets = mongo[f"{run.db_prefix}intake"]["tickets"]
        assert await tickets.count_documents({"contact_id": contact.contact_id}) == 1
    finally:
        await mongo.close()
    assert (
        len(
            [
                e
                for e in observed.events(topics.tickets, "ticket.opened")
                if e["ticket_id"] == ticket_id
            ]
        )
        == 1
    )
    breaches = [
        e for e in observed.events(topics.sla, "sla.breached") if e["ticket_id"] == ticket_id
    ]
    assert sorted(b["metric"] for b in breaches) == ["first_response", "resolution"]
    # Each message reached the engineer once: no Message-ID twice.
    agent_mails = [m["message_id"] for m in run.mail.messages if engineer_address in m["to"]]
    assert agent_mails and len(agent_mails) == len(set(agent_mails))


async def test_a_reply_in_time_meets_the_first_response_target(
    run: Run, observed: Observed
) -> None:
    intake = run.pipeline.running["intake"]
    async with httpx.AsyncClient(base_url=intake.url, timeout=10) as client:
        accepted = await client.post(
            "/contacts",
            json={
                "contact_id": f"chat-{uuid.uuid4().hex}",
                "language": "ru",
                "message": {
                    "channel": "chat",
                    "chat_user_id": "w-1",
                    "conversation_id": "conv-1",
                    "text": "Не могу войти, забыл пароль",
                },
            },
        )
        assert accepted.status_code == 202
        ticket_id = accepted.json()["ticket_id"]

        routed = await eventually(
            lambda: next(
                (
                    e
                    for e in observed.events(run.topics.routing, "ticket.routed")
                    if e["ticket_id"] == ticket_id
                ),
                None,
            ),
            timeout=30,
        )
        token = run.keys.agent_token(AGENT_OF_TEAM[routed["team"]])

        async def seen_by_the_team() -> bool:
            # Agents may act once the router's decision reached intake's view of the ticket.
            found = await client.get(
                f"/tickets/{ticket_id}", headers={"Authorization": f"Bearer {token}"}
            )
            return found.status_code == 200

        await eventually(seen_by_the_team, timeout=30)
        reply = await client.post(
            f"/tickets/{ticket_id}/reply",
            json={"body": "Сбросила пароль, проверьте почту"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert reply.status_code == 202

    met = await eventually(
        lambda: next(
            (
                e
                for e in observed.events(run.topics.sla, "sla.met")
                if e["ticket_id"] == ticket_id and e["metric"] == "first_response"
            ),
            None,
        ),
        timeout=30,
    )
    assert met["used_seconds"] < FIRST_RESPONSE_SECONDS
    routed = next(
        e
        for e in observed.events(run.topics.routing, "ticket.routed")
        if e["ticket_id"] == ticket_id
    )
    assert routed["category"] == "account" and routed["team"] == "accounts"

    # The insights service folded the same events into the ticket's fact: the team's manager
    # finds it behind the first-response figure, met, answered by one reply.
    insights = run.pipeline.running["insights"].url
    manager = {"Authorization": f"Bearer {run.keys.agent_token('mgr-accounts')}"}
    async with httpx.AsyncClient(base_url=insights, timeout=10) as client:

        async def reported() -> dict[str, Any] | None:
            rows = await client.get(
                "/reports/tickets", params={"team": "accounts"}, headers=manager
            )
            assert rows.status_code == 200, rows.text
            row = next((r for r in rows.json() if r["ticket_id"] == ticket_id), None)
            return row if row and row["sla_first_response"] == "met" else None

        row = await eventually(reported, timeout=30)
    assert (row["channel"], row["language"], row["agent_replies"]) == ("chat", "ru", 1)
    assert row["first_response_seconds"] is not None and row["category"] == "account"


async def _mail_in(run: Run, address: str, *, words: str = "") -> ContactReceived:
    contact = ContactReceived(
        contact_id=f"mail-{uuid.uuid4().hex}",
        language="en",
        message={
            "channel": "email",
            "from_address": address,
            "subject": "The wifi drops every few minutes",
            "body": f"Our office wifi keeps dropping since this morning. {words}",
        },
    )
    producer = AIOKafkaProducer(bootstrap_servers=run.endpoints.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            run.topics.contacts, contact.model_dump_json().encode(), key=contact.kafka_key()
        )
    finally:
        await producer.stop()
    return contact


async def test_a_resolved_ticket_is_surveyed_and_one_click_records_the_score(
    run: Run, observed: Observed
) -> None:
    surveyed, reopened = "sofia.survey@example.com", "omid.reopen@example.com"
    tickets = [
        ticket_id_for_contact((await _mail_in(run, address)).contact_id)
        for address in (surveyed, reopened)
    ]
    intake = run.pipeline.running["intake"].url
    insights = run.pipeline.running["insights"].url
    operator = {"Authorization": f"Bearer {run.keys.agent_token('ops-rin')}"}
    async with httpx.AsyncClient(timeout=10) as client:
        for n, ticket_id in enumerate(tickets):

            def assignment(t: str = ticket_id) -> dict[str, Any] | None:
                events = observed.events(run.topics.routing, "ticket.assigned")
                return next((e for e in events if e["ticket_id"] == t), None)

            assigned = await eventually(assignment, timeout=60)
            agent = {"Authorization": f"Bearer {run.keys.agent_token(assigned['agent_id'])}"}

            async def seen(t: str = ticket_id, headers: dict[str, str] = agent) -> bool:
                return (await client.get(f"{intake}/tickets/{t}", headers=headers)).is_success

            await eventually(seen, timeout=30)
            steps = [("reply", {"body": "We restarted the access point."}),
                     ("resolve", {"reason": "fixed"})]  # fmt: skip
            if n == 1:
                steps.append(("reopen", {"reason": "the customer says it is back"}))
            for action, body in steps:
                done = await client.post(f"{intake}/tickets/{ticket_id}/{action}", json=body,
                                         headers=agent)  # fmt: skip
                assert done.status_code == 202, done.text

        def survey_mail() -> dict[str, Any] | None:
            return next(
                (m for m in run.mail.messages if surveyed in m["to"] and "/survey/" in m["body"]),
                None,
            )

        mail = await eventually(survey_mail, timeout=30)
        assert "How satisfied are you" in mail["body"]
        link = re.search(r"(http://\S+/survey/\S+)\?score=4", mail["body"])
        assert link is not None, mail["body"]
        clicked = await client.get(f"{link.group(1)}?score=4")
        assert clicked.status_code == 200 and "Thank you for your answer" in clicked.text

        async def scored() -> dict[str, Any] | None:
            rows = await client.get(f"{insights}/reports/tickets", headers=operator)
            row = next((r for r in rows.json() if r["ticket_id"] == tickets[0]), None)
            return row if row and row["csat_score"] == 4 else None

        await eventually(scored, timeout=30)

        def answers() -> list[int]:
            events = observed.events(run.topics.tickets, "ticket.csat_received")
            return [e["score"] for e in events if e["ticket_id"] == tickets[0]]

        assert await eventually(answers, timeout=10) == [4]
        # The reopened ticket was due its survey long ago; it got none.
        await asyncio.sleep(SURVEY_DELAY_SECONDS + 1)
        assert not any(reopened in m["to"] and "/survey/" in m["body"] for m in run.mail.messages)
        offers = observed.events(run.topics.insights, "survey.offered")
        assert [o["ticket_id"] for o in offers if o["ticket_id"] in tickets] == [tickets[0]]


ERASED_ADDRESS = "erika.mustermann@example.com"
ERASED_NAME = "Erika Mustermann"
ERASED_PHONE = "+30 210 765 4321"


async def _traces(run: Run, *texts: str) -> dict[str, list[str]]:
    """Where any of `texts` still appears: service database -> collections holding it."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(run.endpoints.mongo_url)
    found: dict[str, list[str]] = {}
    try:
        for name in run.pipeline.services:
            db = client[f"{run.db_prefix}{name}"]
            for collection in await db.list_collection_names():
                async for doc in db[collection].find({}):
                    dumped = json.dumps(doc, default=str, ensure_ascii=False)
                    if any(text in dumped for text in texts):
                        found.setdefault(name, []).append(collection)
                        break
    finally:
        await client.close()
    return found


async def test_an_erased_customer_leaves_no_trace_in_any_service(
    run: Run, observed: Observed
) -> None:
    mail = ContactReceived(
        contact_id=f"mail-{uuid.uuid4().hex}",
        language="en",
        message={
            "channel": "email",
            "from_address": ERASED_ADDRESS,
            "from_name": ERASED_NAME,
            "subject": f"Invoice for {ERASED_NAME}",
            "body": f"I was charged twice. Call me on {ERASED_PHONE}.",
        },
    )
    ticket_id = ticket_id_for_contact(mail.contact_id)
    producer = AIOKafkaProducer(bootstrap_servers=run.endpoints.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            run.topics.contacts, mail.model_dump_json().encode(), key=mail.kafka_key()
        )
    finally:
        await producer.stop()

    def through_every_service() -> bool:
        return all(
            any(e.get("ticket_id") == ticket_id for e in observed.events(topic, kind))
            for topic, kind in (
                (run.topics.routing, "ticket.assigned"),
                (run.topics.sla, "sla.started"),
                (run.topics.kb, "kb.suggested"),
            )
        )

    await eventually(through_every_service, timeout=60)
    intake = run.pipeline.running["intake"].url
    kb = run.pipeline.running["kb"].url
    async with httpx.AsyncClient(timeout=10) as client:
        # The customer also searched the knowledge base for their own address.
        assert (await client.get(f"{kb}/articles/search", params={"q": ERASED_ADDRESS})).is_success
        manager = {"Authorization": f"Bearer {run.keys.agent_token('mgr-accounts')}"}
        opened = next(
            e
            for e in observed.events(run.topics.tickets, "ticket.opened")
            if e["ticket_id"] == ticket_id
        )

        async def everywhere() -> dict[str, list[str]] | None:
            found = await _traces(run, ERASED_ADDRESS, ERASED_NAME, ERASED_PHONE)
            return found if {"intake", "notifier", "kb"} <= set(found) else None

        before = await eventually(everywhere, timeout=30)
        answer = await client.post(
            f"{intake}/customers/{opened['customer_id']}/erase", headers=manager
        )
    assert answer.status_code == 202, answer.text

    async def nothing_left() -> bool:
        return not await _traces(run, ERASED_ADDRESS, ERASED_NAME, ERASED_PHONE)

    await eventually(nothing_left, timeout=60, interval=0.5)
    assert await _traces(run, ERASED_ADDRESS, ERASED_NAME, ERASED_PHONE) == {}, before
