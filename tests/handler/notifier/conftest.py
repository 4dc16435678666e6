"""Fixtures of the notifier's handler tests: a real SMTP server and a live WebSocket endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from services.notifier.settings import NotifierSettings
from shared.runtime import Service
from tests.conftest import serving_smtp
from tests.handler.notifier.support import Mailbox, served, start_notifier


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    with serving_smtp(mailbox) as port:
        yield mailbox, port


@pytest.fixture
async def live_notifier(
    make_settings: Any, smtp_server: tuple[Mailbox, int]
) -> AsyncIterator[tuple[Service, NotifierSettings, int]]:
    """A notifier whose WebSocket endpoint is live on a free port."""
    service, settings = await start_notifier(make_settings, smtp_port=smtp_server[1])
    try:
        async with served(service) as port:
            yield service, settings, port
    finally:
        await service.mongo.close()
