"""The notifier under faults, on the real broker and database: a chat tool that never answers,
and a replica killed while emails and webhook calls are on the wire.

Breaches are published on Kafka as the SLA service would; emails reach a real SMTP server
(aiosmtpd) and webhook calls a real HTTP endpoint, which record what they accept.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaConsumer
from pydantic import SecretStr

from bench.notifier import ChatEndpoint
from devstack.pipeline import Pipeline
from devstack.stack import StackEndpoints
from services.notifier.app import build_app
from services.notifier.domain.chat import WebhookTarget
from services.notifier.settings import NotifierSettings
from services.notifier.store import MongoNotifierStore
from shared.broker import make_broker, publish_event
from shared.directory import load_directory
from shared.events import SlaBreached, SlaStarted, TicketRouted
from shared.events.sla import Metric
from shared.ids import derived_id
from shared.mongo import make_mongo_client
from tests.conftest import ROOT, eventually, serving_smtp
from tests.handler.notifier.support import allow_loopback

pytestmark = pytest.mark.integration

SECRET = "notifier-fault-tests-agent-token-secret-0123"
WEBHOOK_SECRET = "fault-tests-webhook-secret-0123456789"
MAIL_DOMAIN = "helpdesk.example"  # of the default smtp_from
BREACHES = 100


@dataclass(frozen=True)
class Mail:
    at: float  # time.perf_counter() when the server accepted it
    to: str
    message_id: str
    subject: str


class Inbox:
    """An SMTP server's handler that takes `delay` seconds over each message's DATA."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.mails: list[Mail] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.delay)
        parsed = message_from_bytes(envelope.content)
        for to in envelope.rcpt_tos:
            mail = Mail(time.perf_counter(), to, str(parsed["Message-ID"]), str(parsed["Subject"]))
            self.mails.append(mail)
        return "250 OK"


def message_id(delivery_key: str) -> str:
    """The Message-ID an email of this delivery carries, on every try."""
    return f"<{derived_id('email', delivery_key)}@{MAIL_DOMAIN}>"


def breach(ticket_id: str, metric: Metric, team: str, assignee_id: str | None) -> SlaBreached:
    now = datetime.now(UTC)
    return SlaBreached(
        ticket_id=ticket_id,
        metric=metric,
        team=team,
        assignee_id=assignee_id,
        priority="P2",
        colour="red",
        due_at=now - timedelta(seconds=1),
        late_by_seconds=0.01,
    )


def chat_target(name: str, url: str, teams: list[str]) -> WebhookTarget:
    return WebhookTarget.model_validate(
        {"name": name, "url": url, "secret": SecretStr(WEBHOOK_SECRET), "teams": teams}
    )


async def test_a_hanging_webhook_does_not_hold_up_the_email_and_is_retried_after_its_timeout(
    make_settings: Any, tmp_path: Path
) -> None:
    timeout = 10.0
    inbox = Inbox()
    chat = ChatEndpoint(delay=None)
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    allow_loopback(config)
    with serving_smtp(inbox) as smtp_port:
        settings = make_settings(
            NotifierSettings,
            config_dir=config,
            smtp_port=smtp_port,
            webhook_timeout=timeout,
            retry_base_seconds=0.5,
            retry_cap_seconds=1.0,
            poll_seconds=0.5,
        )
        service = build_app(settings)
        await service.start()
        await chat.start()
        try:
            ticket_id = "t-hanging-chat"
            await MongoNotifierStore(service.db).put_webhook(
                chat_target("team-chat", chat.url, ["technical"])
            )
            # The shared group has joined once both board groups are applied: the breach is then
            # handled at once, and its timing is the notifier's, not the group's join.
            routed = TicketRouted(
                ticket_id=ticket_id,
                category="network",
                impact="high",
                urgency="high",
                priority="P2",
                tier="L1",
                team="technical",
                reason="fault test",
            )
            started = SlaStarted(
                ticket_id=ticket_id,
                metric="resolution",
                team="technical",
                due_at=datetime.now(UTC) + timedelta(hours=1),
                target_seconds=3600,
            )
            await publish_event(service.broker, settings.topics.routing, routed)
            await publish_event(service.broker, settings.topics.sla, started)
            board = service.db["board"]

            async def on_the_board() -> bool:
                row = await board.find_one({"_id": ticket_id}) or {}
                return row.get("team") == "technical" and "resolution" in row.get("clocks", {})

            await eventually(on_the_board, timeout=30.0)

            # A missed resolution tells the manager by push, email and webhook at once.
            missed = breach(ticket_id, "resolution", "technical", "ag-maria")
            published = time.perf_counter()
            await publish_event(service.broker, settings.topics.sla, missed)
            [mail] = await eventually(lambda: inbox.mails, timeout=10.0, interval=0.01)
            webhook_key = f"{missed.event_id}:team-chat:webhook"
            outbox = service.db["deliveries"]
            hanging = await outbox.find_one({"_id": webhook_key})
            first = await eventually(lambda: chat.calls, timeout=10.0, interval=0.01)
            # The job's first try runs out after `timeout`, is logged, and a second one follows.
            await eventually(lambda: len(chat.calls) >= 2, timeout=timeout + 10.0)
            job = await outbox.find_one({"_id": webhook_key})
        finally:
            await service.stop()
            await chat.stop()

    email_after = mail.at - published
    retried_after = chat.calls[1].at - first[0].at
    print(
        f"\nemail accepted {email_after * 1000:.0f} ms after the breach was published; "
        f"webhook call hanging from {(first[0].at - published) * 1000:.0f} ms, "
        f"tried again {retried_after:.1f} s later (timeout {timeout:g} s)"
    )
    assert mail.to == "eleni.manager@helpdesk.example"
    assert mail.message_id == message_id(f"{missed.event_id}:mgr-technical:email")
    assert email_after < 3.0
    # When the email was in, the webhook call was out and unanswered, and nothing was logged.
    assert first[0].at - published < 3.0
    assert mail.at < first[0].at + timeout
    assert hanging is not None
    assert (hanging["status"], hanging["attempts"], hanging["log"]) == ("leased", 0, [])
    assert [c.headers["x-helpdesk-delivery"] for c in chat.calls[:2]] == [webhook_key] * 2
    assert retried_after >= timeout - 0.5
    assert job is not None
    assert job["log"][0]["outcome"] == "retry"
    assert f"no answer within {timeout:g} s" in job["log"][0]["error"]


def _config_with_chat_on_first_rung(folder: Path) -> Path:
    """The shipped rules, with the first-response ladder's first rung on the team's chat too,
    and webhooks allowed to reach the chat endpoint on this machine."""
    shutil.copytree(ROOT / "config", folder)
    allow_loopback(folder)
    rules = yaml.safe_load((folder / "notifier.yaml").read_text())
    rungs = rules["ladders"]["first_response"]["breach"]["rungs"]
    rungs[0]["channels"] = ["push", "email", "webhook"]
    (folder / "notifier.yaml").write_text(yaml.safe_dump(rules, allow_unicode=True))
    return folder


def _env(settings: NotifierSettings, smtp_port: int) -> dict[str, str]:
    topics = {
        f"HELPDESK_TOPICS__{name.upper()}": value
        for name, value in settings.topics.model_dump().items()
    }
    return {
        **topics,
        "HELPDESK_MONGO__DATABASE_PREFIX": settings.mongo.database_prefix,
        "HELPDESK_CONFIG_DIR": str(settings.config_dir),
        # A restarted replica's consumers join only once the dead one's have timed out.
        "HELPDESK_KAFKA__SESSION_TIMEOUT_MS": "3000",
        "HELPDESK_KAFKA__HEARTBEAT_INTERVAL_MS": "300",
        "HELPDESK_LOGGING__FORMAT": "json",
        "HELPDESK_AGENT_TOKEN_SECRET": SECRET,
        "HELPDESK_SMTP_HOST": "127.0.0.1",
        "HELPDESK_SMTP_PORT": str(smtp_port),
        "HELPDESK_LEASE_SECONDS": "3",
        "HELPDESK_POLL_SECONDS": "0.5",
        "HELPDESK_WEBHOOK_WORKERS": "8",
    }


class TopicLog:
    """Every record on some topics from their start, read without a consumer group."""

    def __init__(self, bootstrap_servers: str, *topics: str) -> None:
        self.topics = set(topics)
        self.records: list[dict[str, Any]] = []
        self._consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap_servers,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            fetch_max_wait_ms=20,
        )

    async def start(self) -> None:
        await self._consumer.start()

    async def stop(self) -> None:
        await self._consumer.stop()

    async def _at_end(self) -> bool:
        for batch in (await self._consumer.getmany(timeout_ms=50)).values():
            self.records.extend(json.loads(r.value) for r in batch)
        assignment = self._consumer.assignment()
        if {tp.topic for tp in assignment} != self.topics:
            return False
        ends = await self._consumer.end_offsets(list(assignment))
        return all([await self._consumer.position(tp) >= end for tp, end in ends.items()])

    async def read(self) -> list[dict[str, Any]]:
        """The records so far, up to the topics' current end."""
        await eventually(self._at_end, timeout=20.0)
        return self.records

    async def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [r for r in await self.read() if r.get("event_type") == event_type]


def _outcomes(records: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(r["channel"], r["recipient"], r["cause_event_id"]) for r in records}


async def test_a_notifier_killed_mid_delivery_tells_each_recipient_each_breach_once(
    make_settings: Any, stack: StackEndpoints, tmp_path: Path
) -> None:
    config = _config_with_chat_on_first_rung(tmp_path / "config")
    directory = load_directory(config)
    agents = [(a.person_id, str(a.email), t.name) for t in directory.teams for a in t.agents]
    breaches: list[SlaBreached] = []
    emails: set[tuple[str, str]] = set()  # (address, Message-ID) of every email expected
    for n in range(BREACHES):
        person, address, team = agents[n % len(agents)]
        event = breach(f"t-kill-{n:03d}", "first_response", team, person)
        breaches.append(event)
        emails.add((address, message_id(f"{event.event_id}:{person}:email")))
    calls = {f"{b.event_id}:team-chat:webhook" for b in breaches}
    inbox = Inbox(delay=0.1)
    chat = ChatEndpoint(delay=0.3)
    with serving_smtp(inbox) as smtp_port:
        settings = make_settings(NotifierSettings, config_dir=config)
        env = _env(settings, smtp_port)
        mongo = make_mongo_client(settings.mongo)
        db = mongo[settings.database_name]
        first = Pipeline(stack, env=env, log_dir=tmp_path / "first", services=("notifier",))
        second = Pipeline(stack, env=env, log_dir=tmp_path / "second", services=("notifier",))
        producer = make_broker(settings)
        topics = settings.topics
        log = TopicLog(settings.kafka.bootstrap_servers, topics.deadletter, topics.notifications)
        await chat.start()
        try:
            teams = [t.name for t in directory.teams]
            await MongoNotifierStore(db).put_webhook(chat_target("team-chat", chat.url, teams))
            first.start()
            await producer.start()
            await log.start()
            started = time.perf_counter()
            for event in breaches:
                await publish_event(producer, settings.topics.sla, event)
            await eventually(lambda: len(inbox.mails) >= len(breaches) // 2, interval=0.005)
            victim = first.running["notifier"].process
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait(timeout=10)
            killed, killed_at = time.perf_counter(), datetime.now(UTC)
            outbox = db["deliveries"]
            at_kill = {
                "emails": len(inbox.mails),
                "webhook calls": len(chat.calls),
                "jobs": await outbox.count_documents({}),
                "sent": await outbox.count_documents({"status": "sent"}),
                "in flight": await outbox.count_documents({"status": "leased"}),
            }
            second.start()

            def all_arrived() -> bool:
                got = {(m.to, m.message_id) for m in inbox.mails}
                called = {c.headers["x-helpdesk-delivery"] for c in chat.calls}
                return emails <= got and calls <= called

            await eventually(all_arrived, timeout=45.0)

            async def all_sent() -> bool:
                return await outbox.count_documents({"status": "sent"}) == len(breaches) * 2

            await eventually(all_sent, timeout=15.0)
            finished = time.perf_counter()
            jobs = await outbox.find({}).to_list()

            async def all_reported() -> bool:
                delivered = await log.of_type("notification.delivered")
                return len(_outcomes(delivered)) >= len(jobs)

            # Each `notification.delivered` follows its job's log entry, on the same replica:
            # give the last ones time to be published before this replica is stopped too.
            with contextlib.suppress(AssertionError):
                await eventually(all_reported, timeout=5.0)
            records = await log.read()
        finally:
            await log.stop()
            await producer.stop()
            first.stop()
            second.stop()
            await chat.stop()
            await mongo.close()

    raw_mail = Counter((m.to, m.message_id) for m in inbox.mails)
    raw_calls = Counter(c.headers["x-helpdesk-delivery"] for c in chat.calls)
    repeated_mail = sum(n - 1 for n in raw_mail.values())
    repeated_calls = sum(n - 1 for n in raw_calls.values())
    report = (
        f"at the kill ({killed - started:.1f} s in): {at_kill}; all delivered "
        f"{finished - killed:.1f} s after it; repeated on the wire: {repeated_mail} emails, "
        f"{repeated_calls} webhook calls"
    )
    print("\n" + report)
    # Every recipient got every notification, and nothing else, once after de-duplication.
    assert set(raw_mail) == emails, report
    assert set(raw_calls) == calls, report
    # Only a delivery the receiver took just before the kill, and whose outcome the dead
    # replica never logged, goes out again (under the same id).
    assert repeated_mail + repeated_calls <= at_kill["in flight"], report
    assert len(jobs) == len(breaches) * 2, report
    assert {j["status"] for j in jobs} == {"sent"}, report
    assert [r for r in records if r["event_type"] == "deadletter"] == [], report
    assert [r for r in records if r["event_type"] == "notification.failed"] == [], report
    # The audit trail: one `notification.delivered` per delivery, whichever replica sent it.
    delivered = _outcomes([r for r in records if r["event_type"] == "notification.delivered"])
    unreported = [
        f"{j['_id']} logged sent at {j['log'][-1]['at'].time()}"
        for j in jobs
        if (j["channel"], j["recipient"], j["cause_event_id"]) not in delivered
    ]
    assert unreported == [], f"no notification.delivered (killed at {killed_at.time()}): {report}"
