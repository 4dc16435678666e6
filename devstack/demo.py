"""`make run`: the local stack, every service, sample contacts in four languages, live output.

Mail the services send is caught by a local SMTP server and shown here; intake's own SMTP
server takes mail for the support addresses. `--fast-sla` uses deadlines of seconds, so
breaches, emails and pushes show within a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import signal
import smtplib
import tempfile
import threading
import uuid
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from aiosmtpd.controller import Controller

from devstack.gateway import Gateway, behind
from devstack.pipeline import ROOT, Pipeline, RunSecrets
from devstack.sla_config import write_fast_sla
from devstack.stack import LocalStack, free_port
from shared.settings import TopicSettings

SAMPLES: list[dict[str, Any]] = [
    {
        "language": "en",
        "message": {
            "channel": "email",
            "from_address": "ana.silva@example.com",
            "subject": "Wifi keeps disconnecting",
            "body": "The wifi drops every few minutes, even after restarting the router.",
        },
    },
    {
        "language": "fa",
        "message": {
            "channel": "chat",
            "chat_user_id": "web-7731",
            "conversation_id": "conv-7731",
            "email": "reza.ahmadi@example.com",
            "text": "سلام، اینترنت من مدام قطع می‌شود و مودم را هم خاموش و روشن کردم.",
        },
    },
    {
        "language": "ru",
        "message": {
            "channel": "email",
            "from_address": "irina@example.ru",
            "subject": "Не могу войти",
            "body": "Забыла пароль и не могу войти в аккаунт. Помогите, пожалуйста.",
        },
    },
    {
        "language": "el",
        "message": {
            "channel": "phone",
            "caller_number": "210 555 0142",
            "line": "+302101234567",
            "outcome": "voicemail",
            "summary": "Δεν βρίσκω το τιμολόγιο του Οκτωβρίου, η πληρωμή χρεώθηκε δύο φορές.",
        },
    },
]


SUPPORT_ADDRESS = "support@helpdesk.example"


def sample_mail() -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Νίκος Παπαδόπουλος <nikos.p@example.gr>"
    msg["To"] = SUPPORT_ADDRESS
    msg["Subject"] = "Το ίντερνετ δεν λειτουργεί"
    msg["Date"] = formatdate(localtime=True)
    # A fresh Message-ID per run: a kept --data-dir would otherwise take it as a duplicate.
    msg["Message-ID"] = make_msgid(domain="example.gr")
    msg.set_content(
        "Καλησπέρα, από χθες το βράδυ το ίντερνετ κόβεται συνέχεια, "
        "ακόμα και μετά από επανεκκίνηση του ρούτερ."
    )
    return msg


def send_mail(port: int, msg: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.send_message(msg)


#: People whose workspace (or reports page) links `make run` prints: agents of two teams, a
#: manager and an operator.
SAMPLE_PEOPLE = (
    ("ag-maria", "Maria Nikolaou, technical agent (Greek)", "notifier/console"),
    ("ag-dina", "Dina Karimi, service-desk agent (Persian)", "notifier/console"),
    ("mgr-service-desk", "Alex Morgan, manager of service-desk", "notifier/console"),
    ("ops-rin", "Rin Tanaka, operator: reports", "insights/reports/page"),
)


def people_links(gateway: str, keys: RunSecrets) -> list[str]:
    return [
        f"{who}: {gateway}/{page}#token={keys.agent_token(person, timedelta(hours=12))}"
        for person, who, page in SAMPLE_PEOPLE
    ]


#: Customers of the samples whose portal sign-in links `make run` asks for and prints.
SAMPLE_CUSTOMERS = ("ana.silva@example.com", "irina@example.ru")
PORTAL_LINK = re.compile(r"\S+/portal/enter\?link=[\w.~-]+")


class PrintingMailbox:
    """Prints each mail the services send; keeps the portal sign-in links they carry."""

    def __init__(self) -> None:
        self.portal_links: dict[str, str] = {}
        # Set by the SMTP server's own thread whenever a link comes.
        self.link_came = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes, policy

        msg = message_from_bytes(envelope.content, policy=policy.default)
        print(f"  mail     -> {', '.join(envelope.rcpt_tos)}: {msg['subject']}", flush=True)
        text = msg.get_body(preferencelist=("plain",))
        found = PORTAL_LINK.search(text.get_content() if text is not None else "")
        if found:
            for address in envelope.rcpt_tos:
                self.portal_links[address.lower()] = found.group(0)
            self.link_came.set()
        return "250 OK"


async def portal_links(gateway: str, mailbox: PrintingMailbox, timeout: float = 90) -> list[str]:
    """Ask the portal to mail each sample customer a sign-in link, as a customer would, until
    intake knows them (their first contact is in), and give back the links the mail carried."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as client:
        for address in SAMPLE_CUSTOMERS:
            while address not in mailbox.portal_links and loop.time() < deadline:
                await client.post("/intake/portal/sign-in", json={"email": address})
                await asyncio.to_thread(mailbox.link_came.wait, 3)
                mailbox.link_came.clear()
    return [
        f"{address} (portal): {mailbox.portal_links.get(address, 'no link came; see intake.log')}"
        for address in SAMPLE_CUSTOMERS
    ]


def describe(value: dict[str, Any]) -> str:
    kind = value.get("event_type", "?")
    details = {
        "ticket.opened": lambda v: (
            f"{v['reference']} {v['channel']} [{v.get('language')}] “{v['subject']}”"
        ),
        "ticket.routed": lambda v: (
            f"{v['category']}/{v.get('subcategory')} {v['priority']} {v['tier']} team={v['team']}"
        ),
        "ticket.assigned": lambda v: f"agent={v['agent_id']} ({v['reason']})",
        "ticket.queued": lambda v: f"waits in {v['team']} ({v['reason']})",
        "ticket.escalated": lambda v: f"{v['from_tier']} -> {v['to_tier']} ({v['reason']})",
        "ticket.transferred": lambda v: (
            f"#{v['transfer_count']} {v.get('from_agent_id')} -> {v.get('to_agent_id')} "
            f"team={v['to_team']}"
        ),
        "kb.suggested": lambda v: "articles=" + ", ".join(a["article_id"] for a in v["articles"]),
        "sla.started": lambda v: f"{v['metric']} due {v['due_at']}",
        "sla.breached": lambda v: (
            f"{v['metric']} BREACHED at {v['due_at']} (late {v['late_by_seconds']:.3f}s), "
            f"ticket {v['colour']}"
        ),
        "sla.warning": lambda v: (
            f"{v['metric']} {v['level_percent']}% used, {v['remaining_seconds']:.0f}s left, "
            f"ticket {v['colour']}" + (f" -> {v['prompt']}" if v.get("prompt") else "")
        ),
        "sla.paused": lambda v: f"{v['metric']} paused ({v.get('reason')})",
        "sla.resumed": lambda v: f"{v['metric']} resumed, due {v['due_at']}",
        "sla.recomputed": lambda v: f"{v['metric']} due {v['due_at']}: {v['reason']}",
        "sla.met": lambda v: f"{v['metric']} met in {v['used_seconds']:.1f}s",
        "notification.delivered": lambda v: f"{v['channel']} to {v['recipient']}",
        "deadletter": lambda v: f"{v['source_topic']}: {v['reason']}",
    }.get(kind, lambda v: "")
    ticket = (value.get("ticket_id") or "")[:8]
    return f"{kind:<24} {ticket:<8} {details(value)}"


async def show(bootstrap: str, topics: TopicSettings) -> None:
    consumer = AIOKafkaConsumer(
        *[t for t in topics.all() if t != topics.contacts],
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        async for record in consumer:
            try:
                print("  " + describe(json.loads(record.value)), flush=True)
            except (ValueError, KeyError):
                print(f"  {record.topic}: {record.value[:120]!r}", flush=True)
    finally:
        await consumer.stop()


async def feed(intake_url: str, keys: RunSecrets, mail_port: int) -> None:
    async with httpx.AsyncClient(base_url=intake_url, timeout=10) as client:
        for sample in SAMPLES:
            body = json.dumps({"contact_id": f"demo-{uuid.uuid4().hex[:12]}", **sample}).encode()
            headers = {"Content-Type": "application/json", **keys.signed(body)}
            response = await client.post("/contacts", content=body, headers=headers)
            response.raise_for_status()
    await asyncio.to_thread(send_mail, mail_port, sample_mail())


async def main_async(args: argparse.Namespace) -> None:
    # `kill` or `timeout` stop the demo like Ctrl-C does, so no service outlives it.
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    config_dir = Path(tempfile.mkdtemp(prefix="helpdesk-config-"))
    shutil.copytree(ROOT / "config", config_dir, dirs_exist_ok=True)
    if args.fast_sla:
        write_fast_sla(config_dir, first_response="PT20S", resolution="PT40S")
    smtp_port = free_port()
    mailbox = PrintingMailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    log_dir = ROOT / ".run" / "logs"
    with LocalStack(data_dir=args.data_dir, log_dir=log_dir) as endpoints:
        print(
            "local stack:",
            *[f"{k}={v}" for k, v in endpoints.env().items()],
            sep="\n  ",
            flush=True,
        )
        keys = RunSecrets.generate()
        mail_port = free_port()
        env = {
            **keys.env(),
            "HELPDESK_CONFIG_DIR": str(config_dir),
            # The relay the services send through (printed here), not intake's inbound server.
            "HELPDESK_SMTP_HOST": "127.0.0.1",
            "HELPDESK_SMTP_PORT": str(smtp_port),
            "HELPDESK_SMTP_LISTEN_PORT": str(mail_port),
        }
        # Links in mail and pages point at the gateway, the one origin browsers use.
        gateway_port = free_port()
        pipeline = Pipeline(endpoints, env=env, log_dir=log_dir, service_env=behind(gateway_port))
        await asyncio.to_thread(pipeline.start)
        gateway = Gateway(
            {name: svc.url for name, svc in pipeline.running.items()},
            port=gateway_port,
            log_path=log_dir / "gateway.log",
        )
        try:
            await asyncio.to_thread(gateway.start)
            for name, svc in pipeline.running.items():
                print(f"{name:<9} {svc.url}/docs   (log: {svc.log_path})", flush=True)
            print(
                f"gateway   {gateway.url}   (every page and API: /<service>/...)",
                "agent token: HELPDESK_AGENT_TOKEN_SECRET="
                f"{keys.agent_token_secret} python -m services.intake.tokens ag-nika",
                f"agents' workspace: {gateway.url}/workspace; signed-in links:",
                *people_links(gateway.url, keys),
                f"mail to {SUPPORT_ADDRESS} via 127.0.0.1:{mail_port}",
                "feeding sample contacts and a mail in English, Persian, Russian and Greek;"
                " Ctrl-C stops\n",
                sep="\n",
                flush=True,
            )
            watcher = asyncio.create_task(show(endpoints.bootstrap_servers, TopicSettings()))
            await feed(pipeline.running["intake"].url, keys, mail_port)
            print(
                f"customers' portal: {gateway.url}/portal; one-time sign-in links:",
                *await portal_links(gateway.url, mailbox),
                sep="\n",
                flush=True,
            )
            await watcher
        finally:
            gateway.stop()
            await asyncio.to_thread(pipeline.stop)
            smtp.stop()
            shutil.rmtree(config_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__)
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="keep Kafka and MongoDB data here"
    )
    parser.add_argument(
        "--fast-sla", action="store_true", help="deadlines of seconds, to watch breaches"
    )
    try:
        asyncio.run(main_async(parser.parse_args()))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("\nstopped", flush=True)


if __name__ == "__main__":
    main()
