"""What the notifier's handler tests share: a mailbox, events, tokens, a started notifier with its
loops running under TestKafkaBroker, and real HTTP servers on free ports."""

from __future__ import annotations

import asyncio
import random
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import uvicorn
import yaml
from aiosmtpd.smtp import SMTP, Envelope, Session
from faststream.kafka import KafkaBroker, TestKafkaBroker
from starlette.types import ASGIApp

from devstack.stack import free_port
from services.notifier.app import build_app
from services.notifier.egress import Resolver
from services.notifier.settings import NotifierSettings
from shared.agent_tokens import AgentTokens
from shared.clock import Clock
from shared.events import SlaBreached, SlaWarning, TicketAssigned, notification_events
from shared.runtime import Service
from tests.conftest import ROOT, eventually

DUE = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TOKEN_SECRET = "notifier-test-secret-of-at-least-32-bytes"


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [
            cast(
                EmailMessage,
                message_from_bytes(e.original_content or b"", policy=policy.default),
            )
            for e in self.envelopes
        ]

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages()]

    def to(self, address: str) -> list[EmailMessage]:
        """The messages sent to one address, in arrival order."""
        return [
            m for e, m in zip(self.envelopes, self.messages(), strict=True) if address in e.rcpt_tos
        ]

    def recipients(self) -> list[str]:
        return [address for e in self.envelopes for address in e.rcpt_tos]


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


def make_warning(ticket_id: str, level: int = 75, **kw: Any) -> SlaWarning:
    values: dict[str, Any] = {
        "ticket_id": ticket_id,
        "metric": "first_response",
        "team": "technical",
        "assignee_id": "ag-nika",
        "priority": "P3",
        "level_percent": level,
        "due_at": DUE + timedelta(hours=1),
        "remaining_seconds": 900.0,
    }
    values.update(kw)
    return SlaWarning(**values)


def make_assigned(ticket_id: str, agent_id: str = "ag-nika", **kw: Any) -> TicketAssigned:
    values: dict[str, Any] = {
        "ticket_id": ticket_id,
        "agent_id": agent_id,
        "team": "technical",
        "reason": "network skill, lowest load",
    }
    values.update(kw)
    return TicketAssigned(**values)


def loopback_config(folder: Path) -> Path:
    """The shipped rules copied to `folder`, with webhooks allowed to reach this machine (the
    tests' receivers listen on 127.0.0.1, which the shipped config refuses)."""
    shutil.copytree(ROOT / "config", folder)
    allow_loopback(folder)
    return folder


def allow_loopback(folder: Path) -> None:
    """Let the webhooks of the rules in `folder` reach 127.0.0.0/8 and ::1."""
    rules = yaml.safe_load((folder / "notifier.yaml").read_text())
    rules["webhooks"] = {"allow_networks": ["127.0.0.0/8", "::1/128"]}
    (folder / "notifier.yaml").write_text(yaml.safe_dump(rules, allow_unicode=True))


def token_for(
    person_id: str, *, now: datetime | None = None, ttl: timedelta = timedelta(hours=1)
) -> str:
    """A person's token; give `now` when the service runs on a FakeClock."""
    return AgentTokens(TOKEN_SECRET).issue(person_id, ttl=ttl, now=now or datetime.now(UTC))


def bearer(person_id: str, **kw: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(person_id, **kw)}"}


async def start_notifier(
    make_settings: Any,
    *,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    resolver: Resolver | None = None,
    **overrides: Any,
) -> tuple[Service, NotifierSettings]:
    """A notifier with tokens, tiny retry backoff and a short poll; `clock`, `rng` and the
    webhooks' `resolver` go to `build_app`, everything else to the settings. Its indexes
    exist; nothing runs yet."""
    overrides = {
        "agent_token_secret": TOKEN_SECRET,
        "retry_base_seconds": 0.01,
        "poll_seconds": 0.2,
        **overrides,
    }
    settings = make_settings(NotifierSettings, **overrides)
    service = build_app(settings, clock=clock, rng=rng, resolver=resolver)
    for hook in service.on_start:
        await hook()
    return service, settings


@asynccontextmanager
async def running(service: Service) -> AsyncIterator[KafkaBroker]:
    """The service's subscribers in memory, with its delivery workers and ladder clock running
    (TestKafkaBroker starts neither); they stop before the broker is put back."""
    async with TestKafkaBroker(service.broker) as broker:
        try:
            for hook in service.after_start:
                await hook()
            yield broker
        finally:
            for hook in reversed(service.on_stop):
                await hook()


def capture_into(service: Service, topic: str, into: list[Any], *, raw: bool = False) -> None:
    """Keep what is published on `topic` (register before entering TestKafkaBroker)."""

    @service.broker.subscriber(topic)
    async def capture(body: dict[str, Any]) -> None:
        into.append(body if raw else notification_events.validate_python(body))


@asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[int]:
    """An ASGI app served by a real uvicorn on a free port (no lifespan)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None)
    )
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, timeout=10)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def served(service: Service) -> AsyncIterator[int]:
    """The service's HTTP API on a free port (its Kafka side is TestKafkaBroker's)."""
    async with serving(service.http) as port:
        yield port
