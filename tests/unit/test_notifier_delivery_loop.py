"""The delivery loop of one replica, on the in-memory store: what its handlers enqueue is sent
without a read of the due jobs, a database failure mid-claim loses no worker, and jobs only the
outbox knows of (retries, other replicas' jobs) are still found while offers keep coming."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from pydantic import SecretStr

from services.notifier.domain.chat import WebhookTarget
from services.notifier.domain.deliveries import Job, OutboxChannel
from services.notifier.publishers import Publishers
from services.notifier.settings import NotifierSettings
from services.notifier.store_memory import MemoryNotifierStore
from services.notifier.worker import Deliveries
from shared.clock import SystemClock
from tests.conftest import eventually
from tests.integration.test_notifier_store import job


class Recorded:
    def __init__(self) -> None:
        self.events: list[Any] = []

    async def publish(self, event: Any) -> None:
        self.events.append(event)


class Chat:
    """A chat tool that answers every call at once."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    async def send(self, target: Any, body: bytes, *, delivery_key: str, now: float) -> None:
        self.keys.append(delivery_key)


class FlakyStore(MemoryNotifierStore):
    """The in-memory store, whose claims fail while `failing` is above 0, and which counts its
    reads of due jobs."""

    def __init__(self) -> None:
        super().__init__()
        self.failing = 0
        self.sweeps = 0

    async def claim(
        self, keys: Sequence[str], *, now: datetime, owner: str, lease: timedelta
    ) -> list[Job]:
        if self.failing:
            self.failing -= 1
            raise ConnectionError("database unreachable")
        return await super().claim(keys, now=now, owner=owner, lease=lease)

    async def due_keys(self, channel: OutboxChannel, *, now: datetime, limit: int) -> list[str]:
        self.sweeps += 1
        return await super().due_keys(channel, now=now, limit=limit)


def room() -> WebhookTarget:
    return WebhookTarget.model_validate(
        {"name": "room", "url": "https://chat.example/hook", "secret": SecretStr("s" * 24)}
    )


async def running(store: FlakyStore, chat: Chat, **settings: Any) -> Deliveries:
    await store.put_webhook(room())
    deliveries = Deliveries(
        store=store,
        email=cast(Any, None),
        webhooks=cast(Any, chat),
        publishers=cast(
            Publishers,
            type("P", (), {n: Recorded() for n in ("delivered", "failed", "dead_letters")})(),
        ),
        settings=NotifierSettings(webhook_workers=2, poll_seconds=0.05, **settings),
        clock=SystemClock(),
    )
    await deliveries.start()
    return deliveries


async def until(done: Any, timeout: float = 5.0) -> None:
    await eventually(done, timeout=timeout, interval=0.01)


async def offered(store: FlakyStore, deliveries: Deliveries, keys: list[str]) -> None:
    now = SystemClock().now()
    jobs = [job(key, now) for key in keys]
    await store.enqueue(jobs)
    deliveries.offer(jobs)


async def test_offered_jobs_are_sent_once_each_and_settled() -> None:
    store, chat = FlakyStore(), Chat()
    deliveries = await running(store, chat)
    try:
        await until(lambda: store.sweeps >= 1)  # the first look, with nothing enqueued
        await offered(store, deliveries, [f"j{i}" for i in range(25)])
        await until(lambda: len(chat.keys) >= 25)
        await until(lambda: all(j.status == "sent" for j in store.jobs_by_key.values()))
    finally:
        await deliveries.stop()
    assert sorted(chat.keys) == sorted(f"j{i}" for i in range(25))


async def test_a_failed_claim_loses_no_worker_and_its_jobs_go_out_later() -> None:
    store, chat = FlakyStore(), Chat()
    store.failing = 3
    deliveries = await running(store, chat)
    try:
        await offered(store, deliveries, [f"j{i}" for i in range(10)])
        # The offered keys of the failed claims are found again by the sweep.
        await until(lambda: len(set(chat.keys)) == 10)
        # Every worker is still there: a new batch larger than the room goes out too.
        await offered(store, deliveries, [f"k{i}" for i in range(12)])
        await until(lambda: len(set(chat.keys)) == 22)
    finally:
        await deliveries.stop()
    assert store.failing == 0
    assert len(chat.keys) == len(set(chat.keys))


async def test_a_job_only_the_outbox_knows_of_is_found_while_offers_keep_coming() -> None:
    store, chat = FlakyStore(), Chat()
    deliveries = await running(store, chat)
    try:
        # Another replica's job: enqueued, never offered here.
        await store.enqueue([job("theirs", SystemClock().now())])
        feeding = True

        async def feed() -> None:
            n = 0
            while feeding:
                await offered(store, deliveries, [f"mine{n}"])
                n += 1
                await asyncio.sleep(0.005)

        task = asyncio.create_task(feed())
        try:
            await until(lambda: "theirs" in chat.keys, timeout=45)
        finally:
            feeding = False
            await task
    finally:
        await deliveries.stop()
