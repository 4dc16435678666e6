"""Helpers the notifier's handler tests share: a mailbox, breaches, a started notifier."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from typing import Any

import uvicorn
from aiosmtpd.smtp import SMTP, Envelope, Session

from devstack.stack import free_port
from services.notifier.app import build_app
from services.notifier.settings import NotifierSettings
from shared.events import (
    SlaBreached,
    notification_events,
)
from shared.agent_tokens import AgentTokens
from shared.runtime import Service
from tests.conftest import eventually

DUE = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class Mailbox:
    """An aiosmtpd handler that keeps every envelope it accepts."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def subjects(self) -> list[str]:
        return [
            str(message_from_bytes(e.original_content or b"", policy=policy.default)["Subject"])
            for e in self.envelopes
        ]


def make_breach(metric: str = "first_response", **kw: Any) -> SlaBreached:
    values: dict[str, Any] = {
        "ticket_id": "t-1001",
        "metric": metric,
        "team": "technical",
        "assignee_id": "ag-nika",
        "priority": "P2",
        "due_at": DUE,
        "occurred_at": DUE + timedelta(seconds=1),
        "late_by_seconds": 1.0,
        "correlation_id": "c-1",
    }
    values.update(kw)
    return SlaBreached(**values)


TOKEN_SECRET = "notifier-test-secret-of-at-least-32-bytes"


def token_for(person_id: str) -> str:
    return AgentTokens(TOKEN_SECRET).issue(person_id, ttl=timedelta(hours=1), now=datetime.now(UTC))


async def start_notifier(make_settings: Any, **overrides: Any) -> tuple[Service, NotifierSettings]:
    overrides = {
        "agent_token_secret": TOKEN_SECRET,
        "retry_base_seconds": 0.01,
        "poll_seconds": 0.2,
        **overrides,
    }
    settings = make_settings(NotifierSettings, **overrides)
    service = build_app(settings)
    for hook in service.on_start:
        await hook()
    return service, settings


def capture_into(service: Service, topic: str, into: list[Any], *, raw: bool = False) -> None:
    @service.broker.subscriber(topic)
    async def capture(body: dict[str, Any]) -> None:
        into.append(body if raw else notification_events.validate_python(body))


@asynccontextmanager
async def served(service: Service) -> AsyncIterator[int]:
    """The service's HTTP app served by a real uvicorn on a free port (no Kafka lifespan)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(service.http, host="127.0.0.1", port=port, lifespan="off", log_config=None)
    )
    task = asyncio.create_task(server.serve())

    await eventually(lambda: server.started, timeout=10)
    try:
        yield port
    finally:
        server.should_exit = True
        await task
