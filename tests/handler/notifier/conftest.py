"""Fixtures of the notifier's handler tests: a real SMTP server capturing mail."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import serving_smtp
from tests.handler.notifier.support import Mailbox


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    with serving_smtp(mailbox) as port:
        yield mailbox, port
