"""Fixtures for every test tier: the backend, fresh settings per test, waiting on conditions."""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, overload

import pytest
from aiosmtpd.controller import Controller

from devstack.stack import StackEndpoints, free_port
from shared.settings import KafkaSettings, MongoSettings, ServiceSettings, TopicSettings
from tests.backends import test_backend

ROOT = Path(__file__).resolve().parents[1]
S = TypeVar("S", bound=ServiceSettings)
T = TypeVar("T")


@pytest.fixture(scope="session")
def stack() -> Iterator[StackEndpoints]:
    """The real broker and database for this test session (see tests/backends.py)."""
    yield from test_backend()


@pytest.fixture
def run_id() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def make_settings(stack: StackEndpoints, run_id: str) -> Callable[..., Any]:
    """Settings for one service in one test: its own database and its own topic names."""

    def factory(cls: type[S], **overrides: Any) -> S:
        topics = TopicSettings(
            **{name: f"{value}.{run_id}" for name, value in TopicSettings().model_dump().items()}
        )
        values: dict[str, Any] = {
            "kafka": KafkaSettings(
                bootstrap_servers=stack.bootstrap_servers,
                session_timeout_ms=6_000,
                heartbeat_interval_ms=500,
            ),
            "mongo": MongoSettings(url=stack.mongo_url, database_prefix=f"t{run_id}_"),
            "topics": topics,
            "config_dir": ROOT / "config",
            "environment": "local",
        }
        values.update(overrides)
        return cls(**values)

    return factory


@overload
async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, timeout: float = ..., interval: float = ...
) -> T: ...


@overload
async def eventually(
    probe: Callable[[], T | None], *, timeout: float = ..., interval: float = ...
) -> T: ...


async def eventually(
    probe: Callable[[], Any], *, timeout: float = 20.0, interval: float = 0.05
) -> Any:
    """Wait until `probe` (sync or async) returns something truthy, or fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


@contextmanager
def serving_smtp(handler: object) -> Iterator[int]:
    """A real SMTP server on a free loopback port that hands each message to `handler`."""
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
