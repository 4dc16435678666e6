"""The knowledge base under FastStream's TestKafkaBroker with the real local MongoDB: a started
service, what it published, and an HTTP client with people's tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from faststream.kafka import TestKafkaBroker

from services.kb.app import build_app
from services.kb.service import SELF_HELP_ISSUER
from services.kb.settings import KbSettings
from shared.agent_tokens import TokenKeys
from shared.events import Event, kb_events, ticket_events
from shared.language import LanguageDetector
from shared.runtime import Service

SECRET = "kb-handler-tests-secret-of-32-bytes-or-more"
PUBLIC_URL = "https://help.example/kb"


@pytest.fixture(scope="session")
def detector() -> LanguageDetector:
    return LanguageDetector()


@dataclass
class Kb:
    service: Service
    settings: KbSettings
    broker: Any
    http: httpx.AsyncClient
    published: list[Event] = field(default_factory=list)
    dead: list[dict[str, Any]] = field(default_factory=list)

    def token(self, person_id: str) -> str:
        now = datetime.now(UTC)
        return TokenKeys(SECRET).issue(person_id, ttl=timedelta(hours=1), now=now)

    def auth(self, person_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(person_id)}"}

    def link(self, ticket_id: str, *, issued_ago: timedelta = timedelta(0)) -> str:
        """A self-help token for `ticket_id`, as the offer's link carries (a week long)."""
        now = datetime.now(UTC) - issued_ago
        keys = TokenKeys(SECRET, issuer=SELF_HELP_ISSUER)
        return keys.issue(ticket_id, ttl=timedelta(days=7), now=now)

    async def send(self, event: Event, topic: str | None = None) -> None:
        await self.broker.publish(
            event.model_dump(mode="json"), topic or self.settings.topics.tickets
        )

    def of(self, kind: type[Event]) -> list[Any]:
        return [e for e in self.published if isinstance(e, kind)]


@asynccontextmanager
async def running_kb(settings: KbSettings, **overrides: Any) -> AsyncIterator[Kb]:
    """A started knowledge base (`build_app(settings, **overrides)`) capturing what it
    publishes, with an HTTP client."""
    service = build_app(settings, **overrides)
    published: list[Event] = []
    dead: list[dict[str, Any]] = []

    @service.broker.subscriber(settings.topics.kb, group_id="capture-kb")
    async def capture(body: dict[str, Any]) -> None:
        published.append(kb_events.validate_python(body))

    @service.broker.subscriber(settings.topics.tickets, group_id="capture-tickets")
    async def capture_tickets(body: Any) -> None:
        if isinstance(body, dict) and body.get("event_type") == "ticket.status_changed":
            published.append(ticket_events.validate_python(body))

    @service.broker.subscriber(settings.topics.deadletter)
    async def capture_dead(body: dict[str, Any]) -> None:
        dead.append(body)

    for hook in service.on_start:
        await hook()
    try:
        async with TestKafkaBroker(service.broker) as broker:
            transport = httpx.ASGITransport(app=service.http)
            async with httpx.AsyncClient(transport=transport, base_url="http://kb") as client:
                yield Kb(service, settings, broker, client, published, dead)
    finally:
        await service.mongo.close()


@pytest.fixture
async def kb(make_settings: Any, detector: LanguageDetector) -> AsyncIterator[Kb]:
    settings = make_settings(KbSettings, agent_token_secret=SECRET, public_url=PUBLIC_URL)
    async with running_kb(settings, detector=detector) as kb:
        yield kb
