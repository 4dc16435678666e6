"""Chat-tool webhooks: registered over HTTP by a team's manager, called by the ladder's rung
that names them, signed, retried; a real receiver (Starlette on uvicorn) on a free port."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.notifier.domain.chat import verify
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
    make_settings: Any, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    clock = FakeClock(START)
    service, settings = await start_notifier(make_settings, clock=clock, smtp_port=port)
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
    make_settings: Any, smtp_server: tuple[Mailbox, int]
) -> None:
    _, port = smtp_server
    service, settings = await start_notifier(make_settings, smtp_port=port)
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
