"""Fixtures of the notifier's handler tests: a real SMTP server capturing mail, and rules that
let webhooks reach this machine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import serving_smtp
from tests.handler.notifier.support import Mailbox, loopback_config


@pytest.fixture(scope="session")
def loopback_rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config folder whose `webhooks.allow_networks` lets calls reach 127.0.0.0/8."""
    return loopback_config(tmp_path_factory.mktemp("notifier") / "config")


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    with serving_smtp(mailbox) as port:
        yield mailbox, port
