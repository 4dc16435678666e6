"""Chat-tool webhooks: registered over HTTP by a team's manager, called by the ladder's rung
that names them, signed, retried; a real receiver (Starlette on uvicorn) on a free port."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.notifier.domain.chat import WebhookTarget, verify
from services.notifier.store import MongoNotifierStore
from shared.clock import FakeClock
from shared.events import NotificationDelivered
from shared.ids import ticket_reference
from tests.conftest import eventually
from tests.handler.notifier.support import (
    DUE,
    Mailbox,
    bearer,
    capture_into,
    make_breach,
    running,
    served,
    serving,
    start_notifier,
)

START = DUE + timedelta(seconds=5)
#: The part of a chat tool's webhook URL that is itself a secret.
URL_SECRET = "T0123-B456-very-secret-path"


@dataclass
class Receiver:
    """A chat tool: keeps each call's headers and body, answers `failures` first, then 200."""

    failures: list[int] = field(default_factory=list)
    calls: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            self.calls.append((dict(request.headers), await request.body()))
            return Response("ok", status_code=self.failures.pop(0) if self.failures else 200)

        return Starlette(routes=[Route("/hooks/{path}", hook, methods=["POST"])])


@asynccontextmanager
async def receiving(receiver: Receiver) -> AsyncIterator[str]:
    async with serving(receiver.app()) as port:
        yield f"http://127.0.0.1:{port}/hooks/{URL_SECRET}"


def webhook_outcomes(events: list[Any]) -> list[NotificationDelivered]:
    return [e for e in events if isinstance(e, NotificationDelivered) and e.channel == "webhook"]


async def test_a_managers_webhook_gets_the_signed_rung_that_names_it(
    make_settings: Any, smtp_server: tuple[Mailbox, int], loopback_rules: Path
) -> None:
    mailbox, port = smtp_server
    clock = FakeClock(START)
    service, settings = await start_notifier(
        make_settings, clock=clock, smtp_port=port, config_dir=loopback_rules
    )
    events: list[Any] = []
    capture_into(service, settings.topics.notifications, events)
    receiver = Receiver()
    breach = make_breach()

    def as_person(person_id: str) -> dict[str, str]:
        return bearer(person_id, now=clock.now(), ttl=timedelta(days=1))

    async with (
        receiving(receiver) as hook_url,
        running(service) as broker,
        served(service) as http_port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as client,
    ):
        registration = {"name": "tech-room", "url": hook_url, "teams": ["technical"]}
        by_agent = await client.post("/webhooks", json=registration, headers=as_person("ag-nika"))
        by_other_manager = await client.post(
            "/webhooks", json=registration, headers=as_person("mgr-accounts")
        )
        created = await client.post(
            "/webhooks", json=registration, headers=as_person("mgr-technical")
        )
        listed = await client.get("/webhooks", headers=as_person("mgr-technical"))
        listed_elsewhere = await client.get("/webhooks", headers=as_person("mgr-accounts"))
        await broker.publish(breach.model_dump(mode="json"), settings.topics.sla)
        await eventually(lambda: mailbox.envelopes)
        # The first rung tells the assignee only: no chat room yet.
        assert await service.db["deliveries"].count_documents({"channel": "webhook"}) == 0
        clock.advance(timedelta(minutes=10))
        await eventually(lambda: webhook_outcomes(events))
        removed = await client.delete("/webhooks/tech-room", headers=as_person("mgr-technical"))
        after = await client.get("/webhooks", headers=as_person("mgr-technical"))

    assert by_agent.status_code == 403 and by_other_manager.status_code == 403
    assert created.status_code == 201
    secret = created.json()["secret"]
    assert isinstance(secret, str) and len(secret) >= 16
    assert listed.status_code == 200
    assert listed.json() == [
        {
            "name": "tech-room",
            "host": "127.0.0.1",
            "teams": ["technical"],
            "kinds": [],
            "active": True,
            "secret": None,
        }
    ]
    assert URL_SECRET not in listed.text and secret not in listed.text
    assert listed_elsewhere.json() == []
    [(headers, body)] = receiver.calls
    assert headers["x-helpdesk-delivery"] == f"{breach.event_id}:tech-room:webhook#1"
    assert headers["content-type"] == "application/json"

    def signed(secret: str, body: bytes) -> bool:
        return verify(
            secret,
            body,
            timestamp_header=headers["x-helpdesk-timestamp"],
            signature_header=headers["x-helpdesk-signature"],
            now=time.time(),
        )

    assert signed(secret, body)
    assert not signed(secret, body + b" ")
    assert not signed("another-secret-of-16-bytes", body)
    payload = json.loads(body)
    assert ticket_reference("t-1001") in payload["text"]
    assert payload["blocks"][0]["type"] == "header"
    assert all(isinstance(block["type"], str) for block in payload["blocks"])
    [delivered] = webhook_outcomes(events)
    assert (delivered.recipient, delivered.attempts, delivered.address) == (
        "tech-room",
        1,
        "webhook:tech-room",
    )
    assert removed.status_code == 204 and after.json() == []
    await service.mongo.close()


async def test_a_webhook_answering_500_twice_is_delivered_at_the_third_try(
    make_settings: Any, smtp_server: tuple[Mailbox, int], loopback_rules: Path
) -> None:
    _, port = smtp_server
    service, settings = await start_notifier(
        make_settings, smtp_port=port, config_dir=loopback_rules
    )
    events: list[Any] = []
    capture_into(service, settings.topics.notifications, events)
    receiver = Receiver(failures=[500, 500])
    # A missed resolution tells the manager's chat room from the first rung.
    breach = make_breach("resolution")

    async with (
        receiving(receiver) as hook_url,
        running(service) as broker,
        served(service) as http_port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as client,
    ):
        created = await client.post(
            "/webhooks",
            json={"name": "tech-room", "url": hook_url, "teams": ["technical"]},
            headers=bearer("mgr-technical"),
        )
        await broker.publish(breach.model_dump(mode="json"), settings.topics.sla)
        await eventually(lambda: webhook_outcomes(events))

    assert created.status_code == 201
    [delivered] = webhook_outcomes(events)
    assert (delivered.recipient, delivered.attempts) == ("tech-room", 3)
    assert len(receiver.calls) == 3
    key = f"{breach.event_id}:tech-room:webhook"
    assert {headers["x-helpdesk-delivery"] for headers, _ in receiver.calls} == {key}
    job = await service.db["deliveries"].find_one({"_id": key})
    assert job is not None
    assert (job["status"], job["attempts"]) == ("sent", 3)
    assert [a["outcome"] for a in job["log"]] == ["retry", "retry", "sent"]
    assert "HTTP 500" in job["log"][0]["error"]
    await service.mongo.close()


class Names:
    """A resolver whose answers a test changes, as a DNS server that rebinds a name would."""

    def __init__(self, **answers: list[str]) -> None:
        self.answers = {name.replace("_", "."): found for name, found in answers.items()}
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise OSError(f"no such name {host}")
        return self.answers[host]


async def test_a_webhook_reaching_only_refused_addresses_is_refused_at_registration(
    make_settings: Any,
) -> None:
    # The shipped rules: no network allowed beyond public ones.
    names = Names(chat_internal_example=["10.20.30.40", "fd12:3456::1"])
    service, _ = await start_notifier(make_settings, resolver=names)
    manager = bearer("mgr-technical")

    async def register(url: str) -> httpx.Response:
        return await client.post(
            "/webhooks",
            json={"name": "tech-room", "url": url, "teams": ["technical"]},
            headers=manager,
        )

    async with (
        served(service) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        answers = {
            url: await register(url)
            for url in (
                "http://10.0.0.5/hooks/x",
                "http://192.168.1.10:8080/hooks/x",
                "http://100.64.1.1/hooks/x",
                "http://169.254.169.254/latest/meta-data/",
                "http://[fd00:ec2::254]/latest/meta-data/",
                "http://127.0.0.1:9/hooks/x",
                "http://[::1]:9/hooks/x",
                "http://0.0.0.0/hooks/x",
                "http://metadata.google.internal/computeMetadata/v1/",
                "https://chat.internal.example/hooks/x",
                "https://no-such-name.example/hooks/x",
            )
        }
        listed = await client.get("/webhooks", headers=manager)

    reasons = {url: answer.json()["detail"][0]["msg"] for url, answer in answers.items()}
    assert {answer.status_code for answer in answers.values()} == {422}, reasons
    assert "10.0.0.5 is private (RFC 1918)" in reasons["http://10.0.0.5/hooks/x"]
    assert "RFC 6598" in reasons["http://100.64.1.1/hooks/x"]
    assert "cloud metadata" in reasons["http://169.254.169.254/latest/meta-data/"]
    assert "cloud metadata" in reasons["http://[fd00:ec2::254]/latest/meta-data/"]
    assert "loopback" in reasons["http://127.0.0.1:9/hooks/x"]
    assert "loopback" in reasons["http://[::1]:9/hooks/x"]
    assert "unspecified" in reasons["http://0.0.0.0/hooks/x"]
    assert "cloud metadata" in reasons["http://metadata.google.internal/computeMetadata/v1/"]
    internal = reasons["https://chat.internal.example/hooks/x"]
    assert "resolves only to refused addresses" in internal and "RFC 4193" in internal
    assert "does not resolve" in reasons["https://no-such-name.example/hooks/x"]
    # The metadata name is refused by its name: it was never looked up.
    assert "metadata.google.internal" not in names.asked
    assert listed.json() == []
    await service.mongo.close()


async def test_a_name_rebound_to_a_refused_address_is_refused_at_delivery_and_dead_lettered(
    make_settings: Any, smtp_server: tuple[Mailbox, int]
) -> None:
    _, smtp_port = smtp_server
    # Public when registered; the receiver's own loopback address when the call is made. The
    # receiver really listens there: only the check at the connection keeps the call out.
    names = Names(chat_example_com=["93.184.216.34"])
    service, settings = await start_notifier(make_settings, smtp_port=smtp_port, resolver=names)
    events: list[Any] = []
    letters: list[dict[str, Any]] = []
    capture_into(service, settings.topics.notifications, events)
    capture_into(service, settings.topics.deadletter, letters, raw=True)
    receiver = Receiver()
    breach = make_breach("resolution")  # the manager's chat room from the first rung
    key = f"{breach.event_id}:tech-room:webhook"

    async with (
        serving(receiver.app()) as hook_port,
        running(service) as broker,
        served(service) as http_port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as client,
    ):
        created = await client.post(
            "/webhooks",
            json={
                "name": "tech-room",
                "url": f"http://chat.example.com:{hook_port}/hooks/{URL_SECRET}",
                "teams": ["technical"],
            },
            headers=bearer("mgr-technical"),
        )
        names.answers["chat.example.com"] = ["127.0.0.1"]
        await broker.publish(breach.model_dump(mode="json"), settings.topics.sla)
        failed = await eventually(
            lambda: [e for e in events if e.event_type == "notification.failed"]
        )
        await eventually(lambda: letters)

    assert created.status_code == 201
    assert receiver.calls == []
    [outcome] = failed
    assert (outcome.recipient, outcome.channel, outcome.attempts) == ("tech-room", "webhook", 1)
    assert "refused" in outcome.error and "127.0.0.1 is loopback" in outcome.error
    assert URL_SECRET not in outcome.error
    job = await service.db["deliveries"].find_one({"_id": key})
    assert job is not None
    assert (job["status"], job["attempts"]) == ("failed", 1)
    assert [a["outcome"] for a in job["log"]] == ["failed"]
    [letter] = letters
    assert letter["reason"].startswith("webhook to tech-room failed after 1 tries")
    assert "127.0.0.1 is loopback" in letter["reason"]
    await service.mongo.close()


async def test_a_name_resolving_to_loopback_is_called_when_the_config_allows_loopback(
    make_settings: Any, smtp_server: tuple[Mailbox, int], loopback_rules: Path
) -> None:
    _, smtp_port = smtp_server
    names = Names(chat_example_com=["127.0.0.1"])
    service, settings = await start_notifier(
        make_settings, smtp_port=smtp_port, resolver=names, config_dir=loopback_rules
    )
    events: list[Any] = []
    capture_into(service, settings.topics.notifications, events)
    receiver = Receiver()

    async with (
        serving(receiver.app()) as hook_port,
        running(service) as broker,
        served(service) as http_port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as client,
    ):
        created = await client.post(
            "/webhooks",
            json={
                "name": "tech-room",
                "url": f"http://chat.example.com:{hook_port}/hooks/{URL_SECRET}",
                "teams": ["technical"],
            },
            headers=bearer("mgr-technical"),
        )
        breach = make_breach("resolution")
        await broker.publish(breach.model_dump(mode="json"), settings.topics.sla)
        await eventually(lambda: webhook_outcomes(events))

    assert created.status_code == 201
    [(headers, _)] = receiver.calls
    # Connected to the address the name resolved to, speaking to the name.
    assert headers["host"] == f"chat.example.com:{hook_port}"
    assert names.asked.count("chat.example.com") >= 2  # at registration, and at the call
    await service.mongo.close()


async def test_heads_manage_only_their_teams_webhooks(
    make_settings: Any, loopback_rules: Path
) -> None:
    service, _ = await start_notifier(make_settings, config_dir=loopback_rules)
    url = "http://127.0.0.1:9/hooks/x"

    def registration(name: str, *teams: str) -> dict[str, Any]:
        return {"name": name, "url": url, "teams": list(teams)}

    async with (
        served(service) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        technical, accounts = bearer("mgr-technical"), bearer("mgr-accounts")
        anonymous = await client.get("/webhooks")
        by_agent = await client.get("/webhooks", headers=bearer("ag-nika"))
        by_operator = await client.get("/webhooks", headers=bearer("ops-rin"))
        created = await client.post(
            "/webhooks", json=registration("tech-room", "technical"), headers=technical
        )
        by_lead = await client.post(
            "/webhooks",
            json=registration("lead-room", "technical"),
            headers=bearer("lead-technical"),
        )
        # Someone else's name cannot be taken over, nor another team's webhook removed.
        taken = await client.post(
            "/webhooks", json=registration("tech-room", "accounts"), headers=accounts
        )
        removed_elsewhere = await client.delete("/webhooks/tech-room", headers=accounts)
        # A webhook of two teams: only somebody heading both may add it; both heads see it,
        # neither removes it alone.
        beyond = await client.post(
            "/webhooks",
            json=registration("shared-room", "technical", "accounts"),
            headers=technical,
        )
        await MongoNotifierStore(service.db).put_webhook(
            WebhookTarget.model_validate(
                registration("shared-room", "technical", "accounts") | {"secret": "s" * 32}
            )
        )
        partly = await client.delete("/webhooks/shared-room", headers=accounts)
        seen_by_accounts = await client.get("/webhooks", headers=accounts)
        missing = await client.delete("/webhooks/no-such-room", headers=technical)

    assert anonymous.status_code == 401
    assert by_agent.status_code == 403 and by_operator.status_code == 403
    assert created.status_code == 201 and by_lead.status_code == 201
    assert taken.status_code == 409
    assert removed_elsewhere.status_code == 404
    assert beyond.status_code == 403
    assert partly.status_code == 403
    assert [w["name"] for w in seen_by_accounts.json()] == ["shared-room"]
    assert missing.status_code == 404
    await service.mongo.close()
