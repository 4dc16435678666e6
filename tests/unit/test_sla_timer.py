"""The deadline heap with a fake clock, and the timer runner firing at a real deadline."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from services.sla.timer import DeadlineHeap, TimerRunner
from shared.clock import FakeClock, SystemClock
from tests.conftest import eventually


def test_pop_due_returns_due_keys_in_deadline_order() -> None:
    clock = FakeClock()
    heap = DeadlineHeap()
    heap.schedule("late", clock.now() + timedelta(minutes=30))
    heap.schedule("soon", clock.now() + timedelta(minutes=5))
    heap.schedule("sooner", clock.now() + timedelta(minutes=1))
    assert heap.next_due() == clock.now() + timedelta(minutes=1)
    assert heap.pop_due(clock.now()) == []
    assert heap.pop_due(clock.advance(timedelta(minutes=10))) == ["sooner", "soon"]
    assert heap.pop_due(clock.now()) == []
    assert len(heap) == 1
    assert heap.pop_due(clock.advance(timedelta(minutes=20))) == ["late"]
    assert heap.next_due() is None


def test_cancelled_and_moved_keys_fire_once_at_their_live_deadline() -> None:
    clock = FakeClock()
    heap = DeadlineHeap()
    heap.schedule("a", clock.now() + timedelta(minutes=1))
    heap.schedule("b", clock.now() + timedelta(minutes=2))
    heap.schedule("b", clock.now() + timedelta(minutes=10))
    heap.cancel("a")
    assert "a" not in heap
    assert heap.next_due() == clock.now() + timedelta(minutes=10)
    assert heap.pop_due(clock.advance(timedelta(minutes=5))) == []
    assert heap.pop_due(clock.advance(timedelta(minutes=5))) == ["b"]
    assert heap.pop_due(clock.advance(timedelta(hours=1))) == []


def test_a_key_tells_its_live_deadline_until_it_fires_or_is_cancelled() -> None:
    clock = FakeClock()
    heap = DeadlineHeap()
    heap.schedule("a", clock.now() + timedelta(minutes=1))
    heap.schedule("a", clock.now() + timedelta(minutes=3))
    assert heap.due("a") == clock.now() + timedelta(minutes=3)
    assert heap.pop_due(clock.advance(timedelta(minutes=5))) == ["a"]
    assert heap.due("a") is None
    heap.schedule("b", clock.now() + timedelta(minutes=1))
    heap.cancel("b")
    assert heap.due("b") is None


def test_keys_due_at_the_same_instant_all_fire_together() -> None:
    clock = FakeClock()
    heap = DeadlineHeap()
    due = clock.now() + timedelta(seconds=1)
    for key in ("z", "x", "y"):
        heap.schedule(key, due)
    assert heap.pop_due(due - timedelta(microseconds=1)) == []
    assert heap.pop_due(due) == ["x", "y", "z"]


def test_moving_deadlines_many_times_does_not_grow_the_heap_without_bound() -> None:
    clock = FakeClock()
    heap = DeadlineHeap()
    for n in range(20_000):
        heap.schedule("t-1", clock.now() + timedelta(seconds=n % 7 + 1))
        heap.schedule("t-2", clock.now() + timedelta(seconds=n % 5 + 1))
    assert len(heap) == 2
    assert len(heap._heap) < 2 * 2 + 1024 + 2
    assert heap.pop_due(clock.advance(timedelta(seconds=1))) == ["t-1"]
    assert heap.pop_due(clock.advance(timedelta(seconds=4))) == ["t-2"]


async def test_runner_fires_at_the_deadline_even_when_scheduled_while_sleeping() -> None:
    clock = SystemClock()
    fired: dict[str, float] = {}

    async def on_due(key: str) -> None:
        fired[key] = time.monotonic()

    runner = TimerRunner(clock, DeadlineHeap(), on_due)
    runner.schedule("far", clock.now() + timedelta(hours=1))
    runner.start()
    try:
        # Scheduled after the runner went to sleep towards the far deadline: it must wake.
        scheduled = time.monotonic()
        runner.schedule("near", clock.now() + timedelta(seconds=0.3))

        async def near_fired() -> bool:
            return "near" in fired

        await eventually(near_fired, timeout=2.0, interval=0.01)
        assert 0.29 <= fired["near"] - scheduled < 0.5
        assert "far" not in fired
    finally:
        await runner.stop()


async def test_runner_retries_a_deadline_whose_callback_failed() -> None:
    clock = SystemClock()
    attempts: list[str] = []

    async def on_due(key: str) -> None:
        attempts.append(key)
        if len(attempts) == 1:
            raise ConnectionError("broker away")

    runner = TimerRunner(clock, DeadlineHeap(), on_due, retry_delay=timedelta(seconds=0.05))
    runner.schedule("k", clock.now())
    runner.start()
    try:

        async def retried() -> bool:
            return len(attempts) == 2

        await eventually(retried, timeout=2.0, interval=0.01)
    finally:
        await runner.stop()


async def test_stale_deadline_from_a_past_instant_fires_at_once() -> None:
    fired = asyncio.Event()

    async def on_due(key: str) -> None:
        fired.set()

    clock = SystemClock()
    runner = TimerRunner(clock, DeadlineHeap(), on_due)
    runner.schedule("overdue", clock.now() - timedelta(minutes=5))
    runner.start()
    try:
        await asyncio.wait_for(fired.wait(), timeout=1.0)
    finally:
        await runner.stop()


async def test_a_hanging_breach_does_not_hold_up_a_deadline_due_with_it() -> None:
    clock = SystemClock()
    fired: dict[str, float] = {}
    slow_cancelled = asyncio.Event()

    async def on_due(key: str) -> None:
        fired[key] = time.monotonic()
        if key == "a-slow":
            try:
                await asyncio.Event().wait()  # a publish that never returns
            except asyncio.CancelledError:
                slow_cancelled.set()
                raise

    runner = TimerRunner(clock, DeadlineHeap(), on_due)
    due = clock.now() + timedelta(seconds=0.1)
    scheduled = time.monotonic()
    # Due together; keys due at one instant fire in key order, so the hanging one goes first.
    runner.schedule("b-fast", due)
    runner.schedule("a-slow", due)
    runner.start()
    try:

        async def both_fired() -> bool:
            return {"a-slow", "b-fast"} <= fired.keys()

        await eventually(both_fired, timeout=2.0, interval=0.01)
        assert fired["a-slow"] <= fired["b-fast"] < scheduled + 0.3
    finally:
        await runner.stop()
    # Stopping the runner also ends the firing still in flight.
    assert slow_cancelled.is_set()


async def test_a_firing_that_times_out_is_retried() -> None:
    clock = SystemClock()
    attempts: list[float] = []

    async def on_due(key: str) -> None:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            await asyncio.Event().wait()

    runner = TimerRunner(
        clock,
        DeadlineHeap(),
        on_due,
        retry_delay=timedelta(seconds=0.05),
        fire_timeout=timedelta(seconds=0.1),
    )
    runner.schedule("k", clock.now())
    runner.start()
    try:

        async def retried() -> bool:
            return len(attempts) == 2

        await eventually(retried, timeout=2.0, interval=0.01)
        assert attempts[1] - attempts[0] >= 0.15
    finally:
        await runner.stop()
