"""Helpers intake's handler tests share: the desk (service, broker, client) and contacts."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage as Mime
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.smtp import SMTP, Envelope, Session
from faststream.kafka import TestKafkaBroker

from services.intake.app import build_app
from services.intake.auth import sign_request
from services.intake.config import IntakeRules, load_rules
from services.intake.settings import IntakeSettings
from shared.agent_tokens import AgentTokens
from shared.events import TicketRouted
from shared.language import LanguageDetector
from shared.runtime import Service

TOKEN_SECRET = "a-test-secret-that-is-long-enough-for-hs256"
ADAPTER_SECRET = "gateway-secret"


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append(
            message_from_bytes(envelope.original_content or b"", policy=policy.default)
        )
        return "250 OK"


@dataclass
class Desk:
    service: Service
    settings: IntakeSettings
    broker: Any
    client: httpx.AsyncClient
    mail: Mailbox
    published: list[dict[str, Any]] = field(default_factory=list)
    letters: list[dict[str, Any]] = field(default_factory=list)

    def events(self, event_type: str, ticket_id: str | None = None) -> list[dict[str, Any]]:
        return [
            e
            for e in self.published
            if e["event_type"] == event_type and ticket_id in (None, e["ticket_id"])
        ]

    async def contact(
        self, message: dict[str, Any], contact_id: str | None = None, **kw: Any
    ) -> None:
        body = {
            "event_type": "contact.received",
            "event_id": str(uuid.uuid4()),
            "contact_id": contact_id or f"c-{uuid.uuid4().hex[:10]}",
            "message": message,
            **kw,
        }
        await self.broker.publish(body, self.settings.topics.contacts)

    async def post_contact(
        self, body: dict[str, Any], secret: str = ADAPTER_SECRET
    ) -> httpx.Response:
        raw = json.dumps(body).encode()
        headers = sign_request(secret, raw, int(time.time()), adapter="gateway")
        headers["Content-Type"] = "application/json"
        return await self.client.post("/contacts", content=raw, headers=headers)

    async def post_mail(self, mime: bytes) -> httpx.Response:
        headers = sign_request(ADAPTER_SECRET, mime, int(time.time()), adapter="gateway")
        headers["Content-Type"] = "message/rfc822"
        return await self.client.post("/contacts/email", content=mime, headers=headers)

    async def route(self, ticket_id: str, team: str = "technical") -> None:
        routed = TicketRouted(
            ticket_id=ticket_id,
            category="network",
            impact="low",
            urgency="low",
            priority="P3",
            tier="L1",
            team=team,
            reason="test",
        )
        await self.broker.publish(routed.model_dump(mode="json"), self.settings.topics.routing)

    def token(self, person: str) -> dict[str, str]:
        token = AgentTokens(TOKEN_SECRET).issue(person, ttl=timedelta(hours=1), now=_now())
        return {"Authorization": f"Bearer {token}"}

    async def read(self, path: str, person: str = "lead-technical") -> Any:
        """GET `path` as `person` (by default the technical team's lead); the JSON answer."""
        answer = await self.client.get(path, headers=self.token(person))
        assert answer.status_code == 200, (answer.status_code, answer.text)
        return answer.json()

    async def act(
        self,
        agent: str,
        ticket_id: str,
        action: str,
        body: dict[str, Any] | None = None,
        **headers: str,
    ) -> httpx.Response:
        token = AgentTokens(TOKEN_SECRET).issue(agent, ttl=timedelta(hours=1), now=_now())
        return await self.client.post(
            f"/tickets/{ticket_id}/{action}",
            json=body or {},
            headers={"Authorization": f"Bearer {token}", **headers},
        )


def _now() -> datetime:
    return datetime.now(UTC)


def mime(
    sender: str = "ana@example.com",
    subject: str = "Wi-Fi keeps dropping",
    body: str = "My wifi drops every evening since Monday.",
    **headers: str,
) -> bytes:
    message = Mime()
    message["From"] = sender
    message["To"] = "support@helpdesk.example"
    message["Subject"] = subject
    message["Message-ID"] = headers.pop("message_id", f"<{uuid.uuid4().hex}@mail.example>")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


def rules_with(**changes: Any) -> IntakeRules:
    base = load_rules(Path(__file__).resolve().parents[3] / "config")
    return base.model_copy(update=changes)


@asynccontextmanager
async def open_desk(
    make_settings: Any,
    detector: LanguageDetector,
    customer_mail: tuple[Mailbox, int],
    rules: IntakeRules | None = None,
    survey_transport: httpx.AsyncBaseTransport | None = None,
    **overrides: Any,
) -> AsyncIterator[Desk]:
    mailbox, port = customer_mail
    settings = make_settings(
        IntakeSettings,
        agent_token_secret=TOKEN_SECRET,
        adapter_secrets={"gateway": ADAPTER_SECRET},
        smtp_port=port,
        **overrides,
    )
    service = build_app(settings, detector=detector, rules=rules, survey_transport=survey_transport)
    for hook in service.on_start:
        await hook()
    published: list[dict[str, Any]] = []
    letters: list[dict[str, Any]] = []

    @service.broker.subscriber(settings.topics.tickets)
    async def collect(body: dict[str, Any]) -> None:
        published.append(body)

    @service.broker.subscriber(settings.topics.deadletter)
    async def collect_letters(body: dict[str, Any]) -> None:
        letters.append(body)

    try:
        async with TestKafkaBroker(service.broker) as broker:
            transport = httpx.ASGITransport(app=service.http)
            async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
                yield Desk(service, settings, broker, client, mailbox, published, letters)
    finally:
        await service.mongo.close()
