"""Fixtures of intake's handler tests: a started intake on TestKafkaBroker and the real
database, an HTTP client, a mailbox for replies to customers, agents' tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from shared.language import LanguageDetector
from tests.conftest import serving_smtp
from tests.handler.intake.support import Desk, Mailbox, open_desk


@pytest.fixture(scope="session")
def detector() -> LanguageDetector:
    """Built once: its language models take a while to load."""
    return LanguageDetector(("en", "fa", "ru", "el"))


@pytest.fixture
def customer_mail() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    with serving_smtp(mailbox) as port:
        yield mailbox, port


@pytest.fixture
async def desk(
    make_settings: Any, detector: LanguageDetector, customer_mail: tuple[Mailbox, int]
) -> AsyncIterator[Desk]:
    async with open_desk(make_settings, detector, customer_mail) as opened:
        yield opened
