"""`make chaos`: the whole help desk under steady load while its services, its broker and its
database fail, then a table of what came out: nothing lost, nothing opened or told twice.

Contacts arrive at a steady rate on the three channels (email, phone, chat; some mail replies
and chat messages join earlier tickets); agents reply to and resolve tickets through intake's
API; billing tickets have targets of seconds, so warnings and breaches reach an SMTP sink and a
webhook receiver during the run. Meanwhile each service is SIGKILLed in turn, then two at once,
a second replica of router and of sla joins and is killed, and the broker and the database are
restarted on their storage on disk. `python -m devstack.chaos --contacts 1000 --faults short`
is the short run; the exit status is non-zero when anything the design promises broke.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.parser import BytesParser
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiosmtpd.controller import Controller

from devstack.pipeline import ROOT, SERVICES, Pipeline, RunSecrets, run_topics, topic_env
from devstack.stack import LocalStack, StackEndpoints, free_port
from services.sla.domain.policies import SlaPolicies
from shared.config import load_yaml
from shared.events import ContactReceived
from shared.ids import derived_id, ticket_id_for_contact, ticket_reference
from shared.settings import TopicSettings

REFERENCE = re.compile(r"HD-[A-Z2-7]{6}")
#: How long a notifier holds a delivery it makes (its default is 60 s).
LEASE_SECONDS = 15
#: Every team of config/teams.yaml, with its manager: who acts on a ticket nobody holds.
MANAGERS = {
    "technical": "mgr-technical",
    "accounts": "mgr-accounts",
    "service-desk": "mgr-service-desk",
}


# -- the configuration of a run ------------------------------------------------------------------


def fast_billing_config(
    folder: Path,
    *,
    first_response: str = "PT15S",
    resolution: str = "PT30S",
    local_webhooks: bool = False,
) -> Path:
    """The shipped rules in `folder`; the billing category gets targets of seconds, round the
    clock. `local_webhooks`: the notifier may call a receiver on this machine (127.0.0.0/8), and
    tells assignments on the console only (not by email), so mail is the SLA ladders'."""
    shutil.copytree(ROOT / "config", folder, dirs_exist_ok=True)
    sla = yaml.safe_load((folder / "sla.yaml").read_text())
    sla["policies"].append(
        {
            "name": "billing-now",
            "match": {"category": "billing"},
            "calendar": "24x7",
            "targets": {"first_response": first_response, "resolution": resolution},
        }
    )
    (folder / "sla.yaml").write_text(yaml.safe_dump(sla, allow_unicode=True))
    if local_webhooks:
        notifier = yaml.safe_load((folder / "notifier.yaml").read_text())
        notifier["webhooks"] = {"allow_networks": ["127.0.0.0/8"]}
        notifier["events"]["assigned"]["channels"] = ["push"]
        (folder / "notifier.yaml").write_text(yaml.safe_dump(notifier, allow_unicode=True))
    return folder


def shortest_shipped_target() -> timedelta:
    """The shortest SLA target of the shipped rules (`config/sla.yaml`, as sla reads it)."""
    shipped = load_yaml(ROOT / "config" / "sla.yaml", SlaPolicies)
    every = [shipped.default.targets, *(p.targets for p in shipped.policies)]
    return min(t for targets in every for t in targets.model_dump().values() if t is not None)


# -- what comes out: every record of the run's topics, every mail, every webhook call -----------


@dataclass
class Seen:
    """Every record of the run's topics, parsed, from the beginning."""

    by_topic: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    #: Called with (topic, event) for each record as it is read.
    listeners: list[Callable[[str, dict[str, Any]], None]] = field(default_factory=list)
    #: The reader's consumer: its high watermarks are the topics' end offsets.
    consumer: AIOKafkaConsumer | None = None

    def events(self, topic: str, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.by_topic[topic] if e.get("event_type") == event_type]

    def ends(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        """End offset per partition as of the reader's last fetch (the local broker's
        ListOffsets answers 1 for the latest offset, so the fetches' watermarks are used)."""
        assert self.consumer is not None
        return {tp: self.consumer.highwater(tp) or 0 for tp in partitions}


async def read_all(endpoints: StackEndpoints, topics: TopicSettings, seen: Seen) -> None:
    consumer = AIOKafkaConsumer(
        *topics.all(),
        bootstrap_servers=endpoints.bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
        # Long enough for the broker to read its S3 storage (see devstack.stack).
        fetch_max_wait_ms=500,
    )
    await consumer.start()
    seen.consumer = consumer
    try:
        async for record in consumer:
            try:
                event = json.loads(record.value)
            except ValueError:
                event = {"unparsable": repr(record.value[:200])}
            seen.by_topic[record.topic].append(event)
            for listener in seen.listeners:
                try:
                    listener(record.topic, event)
                except Exception as exc:  # a listener's bug must not stop the reading
                    print(f"listener failed on {record.topic}: {exc!r}", flush=True)
    finally:
        await consumer.stop()


class MailSink:
    """An SMTP server's handler that keeps each mail's Message-ID, sender and references."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str, str, frozenset[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = BytesParser(policy=default_policy).parsebytes(envelope.content)
        text = msg.get_body(preferencelist=("plain",))
        body = text.get_content() if text is not None else ""
        refs = frozenset(REFERENCE.findall(f"{msg['subject']}\n{body}"))
        to = ",".join(envelope.rcpt_tos)
        self.received.append((str(msg["message-id"]), str(msg["from"]), to, refs))
        return "250 OK"


class WebhookSink:
    """A chat tool on loopback: keeps each call's `X-Helpdesk-Delivery` and the references."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str, frozenset[str]]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                refs = frozenset(REFERENCE.findall(body.decode("utf-8", "replace")))
                delivery = self.headers.get("X-Helpdesk-Delivery") or ""
                sink.received.append((delivery, self.path.strip("/"), refs))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# -- the load: contacts on three channels, and what each must do ---------------------------------


@dataclass
class Load:
    contacts: list[ContactReceived] = field(default_factory=list)
    opens: dict[str, str] = field(default_factory=dict)  # contact id -> the ticket it opens
    joins: dict[str, str] = field(default_factory=dict)  # contact id -> the ticket it joins
    channels: Counter[str] = field(default_factory=Counter)


BILLING = {
    "email": (
        "Invoice charged twice",
        "You charged my card twice for the invoice, please refund it.",
    ),
    "phone": "The invoice was charged twice to the card; the customer wants a refund.",
    "chat": "Hello, you charged my card twice for the invoice, please refund it.",
}


def build_load(run: str, count: int, *, billing_every: int = 20, seed: int = 7) -> Load:
    """`count` contacts: 60% email, 20% phone, 20% chat; one mail in ten answers an earlier
    mail (joining its ticket), one chat message in four follows an earlier conversation."""
    rng = random.Random(seed)
    load = Load()
    mails: list[ContactReceived] = []
    chats: list[ContactReceived] = []
    for i in range(count):
        contact_id = f"{run}-{i}"
        channel = rng.choices(("email", "phone", "chat"), (6, 2, 2))[0]
        billing = i % billing_every == 0
        message: dict[str, Any]
        parent: ContactReceived | None = None
        if channel == "email" and mails and rng.random() < 0.1:
            parent = rng.choice(mails[-300:])
            first = parent.message
            message = {
                "channel": "email",
                "from_address": first.from_address,  # type: ignore[union-attr]
                "subject": "Re: " + first.subject,  # type: ignore[union-attr]
                "body": "It happened again this morning.",
                "in_reply_to": first.message_id,  # type: ignore[union-attr]
                "message_id": f"<{contact_id}@mail.example>",
            }
        elif channel == "email":
            subject, body = (
                BILLING["email"]
                if billing
                else ("Wifi keeps disconnecting", f"The router drops the network, case {i}.")
            )
            message = {
                "channel": "email",
                "from_address": f"cust{i % 500}-{run}@example.com",
                "subject": subject,
                "body": body,
                "message_id": f"<{contact_id}@mail.example>",
            }
        elif channel == "phone":
            message = {
                "channel": "phone",
                "caller_number": f"+30210{4000000 + i:07d}",
                "line": "+302101234567",
                "outcome": rng.choice(("answered", "missed", "voicemail")),
                "duration_seconds": rng.randint(0, 600),
                "summary": BILLING["phone"]
                if billing
                else f"The internet connection drops every evening, case {i}.",
            }
        elif chats and rng.random() < 0.25:
            parent = rng.choice(chats[-300:])
            first = parent.message
            message = {
                "channel": "chat",
                "chat_user_id": first.chat_user_id,  # type: ignore[union-attr]
                "conversation_id": first.conversation_id,  # type: ignore[union-attr]
                "text": "Are you still there? It still does not work.",
            }
        else:
            message = {
                "channel": "chat",
                "chat_user_id": f"web-{run}-{i}",
                "conversation_id": f"conv-{run}-{i}",
                "text": BILLING["chat"]
                if billing
                else f"Hello, I cannot log in to my account since this morning, case {i}.",
            }
        contact = ContactReceived(contact_id=contact_id, message=message)
        load.contacts.append(contact)
        load.channels[channel] += 1
        if parent is not None:
            load.joins[contact_id] = (
                load.opens.get(parent.contact_id) or load.joins[parent.contact_id]
            )
            continue
        load.opens[contact_id] = ticket_id_for_contact(contact_id)
        (mails if channel == "email" else chats if channel == "chat" else []).append(contact)
    return load


async def send_load(
    producer: AIOKafkaProducer, topic: str, load: Load, rate: float, stats: Counter[str]
) -> None:
    """Publish the contacts at `rate` a second, as a channel adapter would: a send the broker
    did not acknowledge (it is restarting) is sent again, so a contact may arrive twice."""
    started = time.monotonic()
    sends: list[asyncio.Task[None]] = []
    for i, contact in enumerate(load.contacts):
        wait = started + i / rate - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        sends.append(asyncio.create_task(_send_one(producer, topic, contact, stats)))
    await asyncio.gather(*sends)


async def _send_one(
    producer: AIOKafkaProducer, topic: str, contact: ContactReceived, stats: Counter[str]
) -> None:
    value, key = contact.model_dump_json().encode(), contact.kafka_key()
    deadline = time.monotonic() + 180
    while True:
        try:
            await (await producer.send(topic, value, key))
            stats["sent"] += 1
            return
        except Exception:
            if time.monotonic() > deadline:
                stats["unsent"] += 1
                return
            stats["resent"] += 1
            await asyncio.sleep(0.5)


# -- agents acting through intake's API -----------------------------------------------------------


@dataclass
class Agents:
    """Agents who reply to a share of the tickets a few seconds after routing, and resolve a
    share of those; each action is retried (with its idempotency key) while intake is down."""

    intake_url: Callable[[], str]
    keys: RunSecrets
    reply_share: float = 0.25
    resolve_share: float = 0.6
    rng: random.Random = field(default_factory=lambda: random.Random(11))
    #: (ticket, action) -> the event ids its tries may publish (one per person who tried: a
    #: ticket escalated or transferred meanwhile is acted on by its new holder); those intake
    #: accepted (202); and why the others were refused.
    expected: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    accepted: set[tuple[str, str]] = field(default_factory=set)
    refused: Counter[str] = field(default_factory=Counter)
    #: Refused (409) after a try that failed midway (5xx, no answer): it may have taken effect.
    unsure: set[tuple[str, str]] = field(default_factory=set)
    #: (ticket, action) -> who tried and the last answer, for those retried until the deadline.
    gave_up: dict[tuple[str, str], str] = field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    #: Each ticket's team and agent now, as the routing topic tells them (None: in the queue).
    teams: dict[str, str] = field(default_factory=dict)
    holders: dict[str, str | None] = field(default_factory=dict)
    _tokens: dict[str, str] = field(default_factory=dict)
    _taken: set[str] = field(default_factory=set)

    def listen(self, topic: str, event: dict[str, Any]) -> None:
        kind, ticket = event.get("event_type"), event.get("ticket_id")
        if not ticket:
            return
        if kind in ("ticket.routed", "ticket.queued", "ticket.assigned"):
            self.teams[ticket] = event["team"]
        if kind == "ticket.transferred":
            self.teams[ticket] = event["to_team"]
            self.holders[ticket] = event.get("to_agent_id")
        elif kind == "ticket.assigned":
            self.holders[ticket] = event["agent_id"]
        elif kind == "ticket.queued":
            self.holders[ticket] = None
        # A routing published again (after a crash) is the same ticket: one agent's work.
        if kind != "ticket.routed" or ticket in self._taken:
            return
        self._taken.add(ticket)
        if self.rng.random() < self.reply_share:
            task = asyncio.create_task(self._work(ticket))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _work(self, ticket: str) -> None:
        await asyncio.sleep(self.rng.uniform(2, 10))
        await self._act(ticket, "reply", {"body": "Thanks, we are looking into it."})
        if self.rng.random() < self.resolve_share:
            await asyncio.sleep(self.rng.uniform(3, 15))
            await self._act(ticket, "resolve", {"reason": "refund issued"})

    def holder(self, ticket: str) -> str:
        """Who works the ticket now: its agent, or its team's manager while it waits in a queue.
        An escalation may have moved it to another team since the last try: that agent of the
        first team no longer sees it (404), its new holder does."""
        return self.holders.get(ticket) or MANAGERS.get(
            self.teams.get(ticket, ""), "mgr-service-desk"
        )

    async def _act(self, ticket: str, action: str, body: dict[str, Any]) -> None:
        key = f"chaos-{action}-{ticket}"
        ids = self.expected.setdefault((ticket, action), set())
        deadline = time.monotonic() + 240
        failed, last, person = False, "no answer", ""
        async with httpx.AsyncClient(timeout=10) as client:
            while time.monotonic() < deadline:
                person = self.holder(ticket)
                ids.add(str(derived_id("agent-action", person, ticket, action, key)))
                token = self._tokens.setdefault(person, self.keys.agent_token(person))
                headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
                try:
                    answer = await client.post(
                        f"{self.intake_url()}/tickets/{ticket}/{action}", json=body, headers=headers
                    )
                except httpx.ConnectError:
                    answer = None  # intake is down: the request never reached it
                except httpx.HTTPError:
                    answer, failed = None, True  # cut off midway
                if answer is not None and answer.status_code == 202:
                    self.accepted.add((ticket, action))
                    return
                if answer is not None and answer.status_code == 409 and failed:
                    self.unsure.add((ticket, action))
                if answer is not None and answer.status_code == 409:
                    # Resolved meanwhile, or the retry of a try whose answer was lost: whether
                    # its event went out is read from the topic.
                    self.refused[f"{action}: {answer.json().get('detail', '409')}"[:80]] += 1
                    return
                # Down (killed, restarting), not yet projected (404), or the broker away (5xx).
                failed = failed or (answer is not None and answer.status_code >= 500)
                if answer is not None:
                    last = f"{answer.status_code} {answer.text[:60]}"
                await asyncio.sleep(1.0)
        self.refused[f"{action}: gave up"] += 1
        self.gave_up[(ticket, action)] = f"{person}: last answer {last}"


# -- faults -------------------------------------------------------------------------------------


@dataclass
class Fault:
    name: str
    act: Callable[[], float | None]


def fault_plan(kind: str, stack: LocalStack, pipeline: Pipeline, crash: bool) -> list[Fault]:
    """What fails, in order: each service SIGKILLed in turn (and restarted); for the full run
    also two at once, a second router and sla joining and later killed; the broker and the
    database restarted on disk."""

    def kill(*names: str) -> Fault:
        def act() -> None:
            pipeline.kill(*names)
            for name in names:
                pipeline.restart(name)

        return Fault("kill " + " + ".join(names), act)

    def replicas() -> None:
        pipeline.start_replica("router", "router-2")
        pipeline.start_replica("sla", "sla-2")

    broker = [Fault("restart broker", lambda: stack.restart_broker(crash=crash))]
    if not stack.broker_on_disk:
        broker = []  # in memory it would forget everything
    database = Fault("restart database", lambda: stack.restart_database(crash=crash))
    singles = [kill(name) for name in SERVICES]
    if kind == "short":
        return [*singles[:3], *broker, *singles[3:], database]
    return [
        *singles[:3],
        Fault("start router-2 + sla-2", replicas),
        *singles[3:],
        kill("intake", "sla"),
        *broker,
        Fault("kill router-2 + sla-2", lambda: pipeline.kill("router-2", "sla-2")),
        kill("router", "notifier"),
        database,
    ]


async def run_faults(
    faults: list[Fault], duration: float, log: list[tuple[str, float, float]], t0: float
) -> float:
    """The faults spread evenly over `duration` seconds (each waits for the one before it to be
    over: its services ready again); the time the last was over."""
    for i, fault in enumerate(faults):
        wait = t0 + (i + 1) * duration / (len(faults) + 1) - time.monotonic()
        await asyncio.sleep(max(wait, 1.0))
        began = time.monotonic()
        await asyncio.to_thread(fault.act)
        took = time.monotonic() - began
        log.append((fault.name, began - t0, took))
        print(f"  {began - t0:6.1f}s  {fault.name} (ready again after {took:.1f}s)", flush=True)
    return time.monotonic()


# -- consumer lag --------------------------------------------------------------------------------

#: Stands for a process's replica id in the names of its own groups.
REPLICA = "{replica}"


def print_groups(out: str) -> None:
    """Write each service's consumer groups and the topics each reads, as its app subscribes
    them under this process's settings, to `out` (JSON). Run in a process of its own."""
    import importlib

    groups: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for name in SERVICES:
        service = importlib.import_module(f"services.{name}.app").build_app()
        groups[name] = sorted(
            {(s.group_id, tuple(s.topic_names)) for s in service.broker.subscribers}
        )
    Path(out).write_text(json.dumps(groups))


def service_groups(env: dict[str, str], folder: Path) -> dict[str, list[tuple[str, list[str]]]]:
    """Each service's consumer groups under the run's settings; `REPLICA` in a group's name
    is the replica id of the process it belongs to."""
    out = folder / "groups.json"
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"from devstack.chaos import print_groups; print_groups({str(out)!r})",
        ],
        cwd=ROOT,
        env={**os.environ, **env, "HELPDESK_ENVIRONMENT": "local", "HELPDESK_REPLICA_ID": REPLICA},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return {k: [(g, list(t)) for g, t in v] for k, v in json.loads(out.read_text()).items()}


def live_groups(
    pipeline: Pipeline, groups: dict[str, list[tuple[str, list[str]]]]
) -> dict[str, tuple[list[str], bool]]:
    """The groups of the processes running now: name -> (topics, whether one process's own)."""
    live: dict[str, tuple[list[str], bool]] = {}
    for svc in pipeline.running.values():
        if svc.process.poll() is None:
            for group, topics in groups[svc.service]:
                own = REPLICA in group
                live[group.replace(REPLICA, svc.replica_id)] = (topics, own)
    return live


async def group_lags(
    admin: AIOKafkaAdminClient, seen: Seen, live: dict[str, tuple[list[str], bool]], partitions: int
) -> dict[str, int]:
    """Records each group has still to take: end offsets less committed offsets. A process's
    own group starts at the newest record, so a partition it never committed on owes nothing;
    a shared group starts at the oldest."""
    lags: dict[str, int] = {}
    for group, (topics, own) in live.items():
        tps = [TopicPartition(t, p) for t in topics for p in range(partitions)]
        ends = seen.ends(tps)
        committed = await admin.list_consumer_group_offsets(group, partitions=tps)
        lag = 0
        for tp in tps:
            at = committed[tp].offset if tp in committed else -1
            if at >= 0 or not own:
                lag += max(0, ends[tp] - max(at, 0))
        lags[group] = lag
    return lags


# -- the table ----------------------------------------------------------------------------------


@dataclass
class Report:
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def row(self, what: str, value: object, note: str = "", *, broken: bool = False) -> None:
        self.rows.append((what, str(value), ("BROKEN " if broken else "") + note))
        if broken:
            self.failures.append(f"{what}: {value} {note}".strip())

    def table(self) -> str:
        width = max(len(w) for w, _, _ in self.rows) + 2
        value = max(len(v) for _, v, _ in self.rows) + 2
        lines = [f"{'what':<{width}}{'count':>{value}}  note", "-" * (width + value + 40)]
        lines += [f"{w:<{width}}{v:>{value}}  {n}" for w, v, n in self.rows]
        lines.append("-" * (width + value + 40))
        lines.append("OK: nothing lost or duplicated" if not self.failures else "FAILED")
        return "\n".join(lines)


def once_by_id(
    events: list[dict[str, Any]], key: Callable[[dict[str, Any]], Any]
) -> dict[Any, set[str]]:
    ids: dict[Any, set[str]] = defaultdict(set)
    for event in events:
        ids[key(event)].add(event["event_id"])
    return ids


def tally(
    load: Load,
    seen: Seen,
    topics: TopicSettings,
    mail: MailSink,
    hooks: WebhookSink,
    agents: Agents,
    sent: Counter[str],
) -> Report:
    """Everything the run promises, counted from what came out."""
    report = Report()
    tickets = set(load.opens.values())
    report.row(
        "contacts sent",
        len(load.contacts),
        ", ".join(f"{c} {n}" for c, n in sorted(load.channels.items())),
    )
    report.row("  sent again (broker away)", sent["resent"], "same contact id: intake replays it")
    report.row("  never acknowledged", sent["unsent"], broken=sent["unsent"] > 0)
    opened = once_by_id(seen.events(topics.tickets, "ticket.opened"), lambda e: e["ticket_id"])
    report.row("tickets opened", len(opened), f"of {len(tickets)} new contacts")
    lost = tickets - set(opened)
    report.row("  lost (new contact, no ticket)", len(lost), broken=bool(lost))
    twice = {t for t, ids in opened.items() if len(ids) > 1}
    report.row("  opened twice (two event ids)", len(twice), broken=bool(twice))
    strays = set(opened) - tickets
    report.row("  opened by a reply (should join)", len(strays), broken=bool(strays))
    joined: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for event in seen.events(topics.tickets, "ticket.contact_appended"):
        joined[event["contact_id"]].add((event["ticket_id"], event["event_id"]))
    report.row(
        "replies and follow-ups joined", len(set(joined) & set(load.joins)), f"of {len(load.joins)}"
    )
    missing = set(load.joins) - set(joined)
    report.row("  lost (never joined)", len(missing), broken=bool(missing))
    wrong = {
        c for c, ids in joined.items() if c in load.joins and {t for t, _ in ids} != {load.joins[c]}
    }
    report.row("  joined the wrong ticket", len(wrong), broken=bool(wrong))
    again = {c for c, ids in joined.items() if len(ids) > 1}
    report.row("  joined twice (two event ids)", len(again), broken=bool(again))
    routed = {e["ticket_id"] for e in seen.events(topics.routing, "ticket.routed")}
    started = {e["ticket_id"] for e in seen.events(topics.sla, "sla.started")}
    suggested = {e["ticket_id"] for e in seen.events(topics.kb, "kb.suggested")}
    for what, have in (
        ("routed", routed),
        ("SLA clocks started", started),
        ("kb suggestions", suggested),
    ):
        gap = tickets - have
        report.row(f"tickets {what}", len(tickets & have), f"{len(gap)} missing", broken=bool(gap))
    billing = {
        e["ticket_id"]
        for e in seen.events(topics.routing, "ticket.routed")
        if e.get("category") == "billing"
    }
    report.figures["billing"] = len(billing)
    published = {e["event_id"] for e in seen.by_topic[topics.tickets]}
    for action, what in (("reply", "replies"), ("resolve", "resolutions")):
        accepted = {k for k in agents.accepted if k[1] == action}
        asked = [k for k in agents.expected if k[1] == action]
        out = {k for k in asked if agents.expected[k] & published}
        unpublished = accepted - out
        report.row(f"agent {what} accepted (202)", len(accepted), f"of {len(asked)} asked")
        report.row("  accepted, never published", len(unpublished), broken=bool(unpublished))
        report.row("  published though not accepted", len(out - accepted), "a lost answer")
        moved = sum(len(agents.expected[k]) > 1 for k in asked)
        report.row("  tried again by a new holder", moved, "escalated or transferred meanwhile")
    resolved = {
        e["ticket_id"]
        for e in seen.events(topics.tickets, "ticket.status_changed")
        if e.get("status") == "resolved"
    }
    silent = {t for t, a in agents.unsure if a == "resolve" and t not in resolved}
    report.row(
        "  resolved in intake, never announced",
        len(silent),
        "a try cut off midway, its retry refused as done",
        broken=bool(silent),
    )
    for why, count in sorted(agents.refused.items()):
        report.row(f"  refused: {why}", count, broken=why.endswith("gave up"))
    for (ticket, action), last in sorted(agents.gave_up.items()):
        report.row(f"    {action} {ticket}", "", last)
    breaches = seen.events(topics.sla, "sla.breached")
    by_id = Counter(e["event_id"] for e in breaches)
    by_cycle = once_by_id(breaches, lambda e: (e["ticket_id"], e["metric"], e["cycle"]))
    report.row(
        "sla.breached events", len(by_id), f"billing tickets (targets of seconds): {len(billing)}"
    )
    report.row(
        "  records repeating an event id",
        sum(n - 1 for n in by_id.values()),
        "dropped by consumers by id",
    )
    twice_breached = {k for k, ids in by_cycle.items() if len(ids) > 1}
    report.row(
        "  breached twice (ticket, metric, cycle)", len(twice_breached), broken=bool(twice_breached)
    )
    # Other tickets have the shipped targets (15 minutes and more, in business time or round
    # the clock): one breached sooner after its opening than the shortest of them fired early.
    shortest = shortest_shipped_target()
    opened_at = {
        e["ticket_id"]: datetime.fromisoformat(e["occurred_at"])
        for e in seen.events(topics.tickets, "ticket.opened")
    }
    early = {
        (e["ticket_id"], e["metric"], e["cycle"])
        for e in breaches
        if e["ticket_id"] not in billing
        and (
            e["ticket_id"] not in opened_at
            or datetime.fromisoformat(e["occurred_at"]) - opened_at[e["ticket_id"]] < shortest
        )
    }
    report.row(
        "  breaches of other tickets",
        len({k for k in by_cycle if k[0] not in billing}),
        f"shipped targets: {shortest.total_seconds() / 60:g} min and more",
    )
    report.row(
        f"    sooner than {shortest.total_seconds() / 60:g} min after opening",
        len(early),
        broken=bool(early),
    )
    report.row(
        "sla.warning events", len({e["event_id"] for e in seen.events(topics.sla, "sla.warning")})
    )
    open_clocks = unfinished_clocks(seen, topics, billing)
    report.row(
        "  billing clocks never met nor breached", len(open_clocks), broken=bool(open_clocks)
    )
    told(report, seen, topics, mail, hooks, by_cycle)
    letters = seen.by_topic[topics.deadletter]
    report.row("dead letters", len(letters), broken=bool(letters))
    for reason, count in Counter(str(d.get("reason"))[:90] for d in letters).most_common(8):
        report.row(f"  {reason}", count)
    return report


def unfinished_clocks(
    seen: Seen, topics: TopicSettings, billing: set[str]
) -> set[tuple[str, str, int]]:
    """First-response and resolution clocks of billing tickets that neither met nor breached."""

    def key(e: dict[str, Any]) -> tuple[str, str, int]:
        return (e["ticket_id"], e["metric"], e["cycle"])

    started = {key(e) for e in seen.events(topics.sla, "sla.started") if e["ticket_id"] in billing}
    ended = {key(e) for kind in ("sla.breached", "sla.met") for e in seen.events(topics.sla, kind)}
    return {k for k in started - ended if k[1] in ("first_response", "resolution")}


def told(
    report: Report,
    seen: Seen,
    topics: TopicSettings,
    mail: MailSink,
    hooks: WebhookSink,
    breaches: dict[tuple[str, str, int], set[str]],
) -> None:
    """Mail and webhook calls, each counted once by its id; every resolution breach reached
    the team's manager by email and the team's room by webhook."""
    ids = Counter(m[0] for m in mail.received)
    report.row("emails received", len(mail.received), f"{len(ids)} distinct Message-IDs")
    report.row(
        "  sent again, same Message-ID",
        sum(n - 1 for n in ids.values()),
        "at-least-once: a crash between send and record",
    )
    hook_ids = Counter(h[0] for h in hooks.received)
    report.row(
        "webhook calls received", len(hooks.received), f"{len(hook_ids)} distinct delivery ids"
    )
    report.row(
        "  sent again, same delivery id",
        sum(n - 1 for n in hook_ids.values()),
        "at-least-once: a crash between send and record",
    )
    mailed = {
        r
        for _, sender, _, refs in mail.received
        if sender.endswith("helpdesk@helpdesk.example>")
        for r in refs
    }
    hooked = {r for _, _, refs in hooks.received for r in refs}
    resolution = {ticket_reference(t) for (t, m, _) in breaches if m == "resolution"}
    report.row(
        "resolution breaches told by email",
        len(resolution & mailed),
        f"of {len(resolution)}",
        broken=bool(resolution - mailed),
    )
    report.row(
        "resolution breaches told by webhook",
        len(resolution & hooked),
        f"of {len(resolution)}",
        broken=bool(resolution - hooked),
    )
    delivered = seen.events(topics.notifications, "notification.delivered")
    report.row("notification.delivered events", len({e["event_id"] for e in delivered}))


# -- the run ------------------------------------------------------------------------------------


@dataclass
class Options:
    contacts: int = 10_000
    rate: float = 40.0
    faults: str = "full"  # or "short": each service once, the broker, the database
    crash_stores: bool = False  # SIGKILL the broker and the database instead of SIGTERM
    settle_timeout: float = 600.0
    data_dir: Path | None = None
    log_dir: Path | None = None
    partitions: int = 3
    log_level: str = "WARNING"
    #: The broker's log on disk too (S3 storage served from the data folder), so that it can be
    #: restarted; in memory (no broker restart) the broker is many times faster.
    broker_on_disk: bool = True


async def register_webhooks(notifier_url: str, keys: RunSecrets, sink: WebhookSink) -> None:
    """One webhook per team, registered by its manager, pointing at the sink."""
    async with httpx.AsyncClient(base_url=notifier_url, timeout=10) as client:
        for team, manager in MANAGERS.items():
            answer = await client.post(
                "/webhooks",
                json={"name": f"chaos-{team}", "url": f"{sink.url}/{team}", "teams": [team]},
                headers={"Authorization": f"Bearer {keys.agent_token(manager)}"},
            )
            answer.raise_for_status()


async def wait_for(
    probe: Callable[[], Awaitable[bool]], timeout: float, interval: float = 1.0
) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if await probe():
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(interval)


async def chaos(options: Options) -> Report:
    """Start everything, run the load and the faults, wait until the work is through, count."""
    # The run's own clients retry through the broker's restart; their complaints say nothing.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    work = Path(tempfile.mkdtemp(prefix="helpdesk-chaos-"))
    data_dir = options.data_dir or work / "data"
    log_dir = options.log_dir or ROOT / ".run" / "chaos-logs"
    shutil.rmtree(log_dir, ignore_errors=True)
    run = uuid.uuid4().hex[:8]
    topics = run_topics(run)
    keys = RunSecrets.generate(adapters=())
    mail, hooks = MailSink(), WebhookSink()
    smtp = Controller(mail, hostname="127.0.0.1", port=free_port())
    stack = LocalStack(
        data_dir=data_dir,
        log_dir=log_dir,
        mongo_cache="2G",
        broker_on_disk=options.broker_on_disk,
    )
    pipeline: Pipeline | None = None
    tasks: list[asyncio.Task[Any]] = []
    load = build_load(run, options.contacts)
    try:
        smtp.start()
        hooks.start()
        endpoints = await asyncio.to_thread(stack.start)
        env = {
            **topic_env(run),
            **keys.env(),
            "HELPDESK_CONFIG_DIR": str(fast_billing_config(work / "config", local_webhooks=True)),
            "HELPDESK_MONGO__DATABASE_PREFIX": f"chaos{run}_",
            "HELPDESK_KAFKA__PARTITIONS": str(options.partitions),
            "HELPDESK_KAFKA__SESSION_TIMEOUT_MS": "6000",
            "HELPDESK_KAFKA__HEARTBEAT_INTERVAL_MS": "500",
            # A delivery a notifier left half done (killed, or the database away) is taken
            # again after its lease: within the run, so that a repeat shows in the table.
            "HELPDESK_LEASE_SECONDS": str(LEASE_SECONDS),
            "HELPDESK_SMTP_HOST": "127.0.0.1",
            "HELPDESK_SMTP_PORT": str(smtp.port),
            "HELPDESK_LOGGING__LEVEL": options.log_level,
            "HELPDESK_LOGGING__FORMAT": "json",
        }
        groups = await asyncio.to_thread(service_groups, env, work)
        pipeline = Pipeline(endpoints, env=env, log_dir=log_dir)
        print(
            f"chaos run {run}: {options.contacts} contacts at {options.rate}/s; logs in {log_dir}",
            flush=True,
        )
        await asyncio.to_thread(pipeline.start, 120.0)
        running = pipeline
        await register_webhooks(running.running["notifier"].url, keys, hooks)
        seen = Seen()
        agents = Agents(lambda: running.running["intake"].url, keys)
        seen.listeners.append(agents.listen)
        tasks.append(asyncio.create_task(read_all(endpoints, topics, seen)))
        # The broker stores each batch as an object: contacts go in batches of 50 ms.
        producer = AIOKafkaProducer(
            bootstrap_servers=endpoints.bootstrap_servers, linger_ms=50, acks="all"
        )
        await producer.start()
        admin = AIOKafkaAdminClient(bootstrap_servers=endpoints.bootstrap_servers)
        await admin.start()
        try:
            report = await drive(
                options,
                load,
                seen,
                topics,
                running,
                stack,
                producer,
                admin,
                agents,
                mail,
                hooks,
                groups,
                tasks[0],
            )
        finally:
            await producer.stop()
            await admin.close()
        return report
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if pipeline is not None:
            await asyncio.to_thread(pipeline.stop)
        await asyncio.to_thread(stack.stop)
        smtp.stop()
        hooks.stop()
        shutil.rmtree(work, ignore_errors=True)


async def drive(
    options: Options,
    load: Load,
    seen: Seen,
    topics: TopicSettings,
    pipeline: Pipeline,
    stack: LocalStack,
    producer: AIOKafkaProducer,
    admin: AIOKafkaAdminClient,
    agents: Agents,
    mail: MailSink,
    hooks: WebhookSink,
    groups: dict[str, list[tuple[str, list[str]]]],
    reader: asyncio.Task[None],
) -> Report:
    sent: Counter[str] = Counter()
    faults = fault_plan(options.faults, stack, pipeline, options.crash_stores)
    duration = len(load.contacts) / options.rate
    log: list[tuple[str, float, float]] = []
    t0 = time.monotonic()
    sending = asyncio.create_task(send_load(producer, topics.contacts, load, options.rate, sent))
    sent_at: list[float] = []
    sending.add_done_callback(lambda _: sent_at.append(time.monotonic()))
    last_restart = await run_faults(faults, duration, log, t0)
    await sending
    load_done = sent_at[0]
    print(f"  {load_done - t0:6.1f}s  load sent ({sent['sent']} acknowledged)", flush=True)

    lag_zero: list[float] = []
    lags: dict[str, int] = {}

    async def caught_up() -> bool:
        nonlocal lags
        try:
            lags = await group_lags(admin, seen, live_groups(pipeline, groups), options.partitions)
        except Exception as exc:  # the broker may still be finding its feet
            print(f"  lag not read: {exc!r}", flush=True)
            return False
        zero = bool(lags) and not any(lags.values())
        if zero and not lag_zero:
            lag_zero.append(time.monotonic())
        return zero

    def pending() -> dict[str, int]:
        """What has still to come out, by kind (nothing: the run's work is through)."""
        tickets = set(load.opens.values())
        routed = seen.events(topics.routing, "ticket.routed")
        billing = {e["ticket_id"] for e in routed if e.get("category") == "billing"}
        published = {e["event_id"] for e in seen.by_topic[topics.tickets]}
        resolution = {
            ticket_reference(e["ticket_id"])
            for e in seen.events(topics.sla, "sla.breached")
            if e["metric"] == "resolution"
        }
        mailed = {r for *_, refs in mail.received for r in refs}
        hooked = {r for *_, refs in hooks.received for r in refs}
        counts = {
            "to open": len(
                tickets - {e["ticket_id"] for e in seen.events(topics.tickets, "ticket.opened")}
            ),
            "to join": len(
                set(load.joins)
                - {e["contact_id"] for e in seen.events(topics.tickets, "ticket.contact_appended")}
            ),
            "to route": len(tickets - {e["ticket_id"] for e in routed}),
            "to time": len(
                tickets - {e["ticket_id"] for e in seen.events(topics.sla, "sla.started")}
            ),
            "to suggest": len(
                tickets - {e["ticket_id"] for e in seen.events(topics.kb, "kb.suggested")}
            ),
            "agents busy": len(agents.tasks),
            "actions unseen": sum(not agents.expected[a] & published for a in agents.accepted),
            "clocks running": len(unfinished_clocks(seen, topics, billing)),
            "breaches unmailed": len(resolution - mailed),
            "breaches unhooked": len(resolution - hooked),
        }
        return {k: n for k, n in counts.items() if n}

    progress = [time.monotonic()]

    async def settled() -> bool:
        if reader.done():
            raise RuntimeError(f"the topics' reader stopped: {reader.exception()!r}")
        left = pending()
        # Deliveries leased by a notifier that died (or lost its database) are due again.
        if time.monotonic() - last_restart < LEASE_SECONDS + 5:
            left["leases running"] = 1
        zero = not left and await caught_up()
        if not zero and time.monotonic() - progress[-1] > 15:
            progress.append(time.monotonic())
            lagging = {g: n for g, n in lags.items() if n}
            print(f"  {time.monotonic() - t0:6.1f}s  waiting: {left or lagging}", flush=True)
        return zero

    done = await wait_for(settled, options.settle_timeout)
    ended = time.monotonic()
    # Deliveries a breach at the very end asked for go out within a poll or two.
    await asyncio.sleep(5)
    report = tally(load, seen, topics, mail, hooks, agents, sent)
    report.row(
        "work through in time",
        "yes" if done else "no",
        f"within {options.settle_timeout:.0f}s after the load",
        broken=not done,
    )
    stuck = {g: n for g, n in lags.items() if n}
    report.row(
        "consumer groups with lag at the end",
        len(stuck),
        ", ".join(f"{g}={n}" for g, n in sorted(stuck.items()))[:200],
        broken=bool(stuck),
    )
    report.row("consumer groups checked", len(lags))
    after = f"{lag_zero[0] - last_restart:.1f}s" if lag_zero else "never"
    report.row(
        "last restart -> every group's lag 0",
        after,
        f"load ended {load_done - last_restart:+.1f}s after the last restart",
    )
    report.figures.update(
        faults=log,
        duration=ended - t0,
        lag_zero_after_last_restart=(lag_zero[0] - last_restart) if lag_zero else None,
    )
    return report


def render(report: Report, options: Options) -> str:
    faults = "\n".join(
        f"  {at:7.1f}s  {name:<28} {took:5.1f}s" for name, at, took in report.figures["faults"]
    )
    return (
        f"chaos: {options.contacts} contacts at {options.rate:g}/s, faults: {options.faults}"
        f"{' (broker and database SIGKILLed)' if options.crash_stores else ''}"
        f"; {'database on disk, broker in memory' if not options.broker_on_disk else 'on disk'}; "
        f"{report.figures['duration']:.0f}s in all\n"
        f"faults (when, what, how long until ready again):\n{faults}\n\n{report.table()}\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make chaos", description=__doc__)
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=40.0, help="contacts a second")
    parser.add_argument("--faults", choices=("full", "short"), default="full")
    parser.add_argument("--crash-stores", action="store_true", help="SIGKILL broker and database")
    parser.add_argument("--settle-timeout", type=float, default=900.0)
    parser.add_argument("--data-dir", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--log-dir", type=Path, default=None, help="default: .run/chaos-logs")
    parser.add_argument("--log-level", default="WARNING", help="the services' log level")
    parser.add_argument(
        "--broker-in-memory",
        action="store_true",
        help="keep only the database on disk: no broker restart, a much faster broker",
    )
    parser.add_argument("--table", type=Path, default=None, help="also write the table here")
    args = parser.parse_args(argv)
    options = Options(
        contacts=args.contacts,
        rate=args.rate,
        faults=args.faults,
        crash_stores=args.crash_stores,
        settle_timeout=args.settle_timeout,
        data_dir=args.data_dir,
        log_dir=args.log_dir,
        log_level=args.log_level,
        broker_on_disk=not args.broker_in_memory,
    )

    async def guarded() -> Report:
        # `kill` or `timeout` stop the run like Ctrl-C does: everything started is stopped.
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await chaos(options)

    try:
        report = asyncio.run(guarded())
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("\nstopped", flush=True)
        return 130
    text = render(report, options)
    print(text, flush=True)
    if args.table is not None:
        args.table.write_text(text, encoding="utf-8")
    return 1 if report.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
