"""Settlements of messages that finish together are written together, and each caller learns
whether the write carrying its own settlements succeeded."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from services.notifier.domain.deliveries import Attempt, Settlement
from services.notifier.worker import GroupWrite

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def settled(key: str) -> Settlement:
    return Settlement(key=key, attempt=Attempt(at=AT, outcome="sent"), status="sent")


async def test_callers_that_queue_behind_a_write_share_the_next_one() -> None:
    writes: list[list[str]] = []
    gate = asyncio.Event()

    async def write(items: Sequence[Settlement]) -> None:
        writes.append([s.key for s in items])
        if len(writes) == 1:
            await gate.wait()

    group = GroupWrite(write)
    first = asyncio.create_task(group.write([settled("a")]))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(group.write([settled(k), settled(k + "2")])) for k in "bcd"]
    await asyncio.sleep(0)
    assert writes == [["a"]] and not first.done()
    gate.set()
    await asyncio.gather(first, *rest)
    assert writes == [["a"], ["b", "b2", "c", "c2", "d", "d2"]]
    await group.write([settled("e")])  # alone: written at once, not held for company
    assert writes[-1] == ["e"]


async def test_a_failed_write_fails_every_caller_it_carried_and_the_next_write_is_fresh() -> None:
    gate = asyncio.Event()
    calls = 0

    async def write(items: Sequence[Settlement]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await gate.wait()
        if calls == 2:
            raise ConnectionError("database gone")

    group = GroupWrite(write)
    first = asyncio.create_task(group.write([settled("a")]))
    await asyncio.sleep(0)
    queued = [asyncio.create_task(group.write([settled(k)])) for k in "bc"]
    await asyncio.sleep(0)
    gate.set()
    await first
    results = await asyncio.gather(*queued, return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    await group.write([settled("d")])
    assert calls == 3


@pytest.mark.parametrize("count", [1, 50])
async def test_every_settlement_reaches_a_write_exactly_once(count: int) -> None:
    seen: list[str] = []

    async def write(items: Sequence[Settlement]) -> None:
        await asyncio.sleep(0.001)
        seen.extend(s.key for s in items)

    group = GroupWrite(write)
    await asyncio.gather(*[group.write([settled(f"k{i}")]) for i in range(count)])
    assert sorted(seen) == sorted(f"k{i}" for i in range(count))
