"""One replica's coordination, with in-memory stand-ins: ticket locks, loading assigned clocks."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from aiokafka import TopicPartition
from structlog.testing import capture_logs

from services.sla.domain import EarlyReply, EarlyResolution, SlaClock
from services.sla.handlers import fire_deadline, handle
from services.sla.partitions import PartitionListener
from services.sla.policies import SlaPolicies
from services.sla.settings import SlaSettings
from services.sla.state import LOCK_STRIPES, SlaState
from services.sla.timer import DeadlineHeap
from shared.clock import FakeClock
from shared.events import TicketAgentReplied
from tests.conftest import eventually

POLICIES = SlaPolicies.model_validate({"default": {"first_response": "PT1H", "resolution": "PT8H"}})
START = FakeClock().now()


def _clock(ticket_id: str = "t-1", partition: int = 0) -> SlaClock:
    return SlaClock(
        ticket_id=ticket_id,
        metric="first_response",
        started_at=START,
        due_at=START + timedelta(hours=1),
        partition=partition,
        started_by="routed-1",
    )


class MemoryStore:
    """The clock store's contract, in a dict; `failures` reads of running clocks fail first."""

    def __init__(self, clocks: Iterable[SlaClock] = (), *, failures: int = 0) -> None:
        self.clocks = {c.key: c for c in clocks}
        self.failures = failures
        self.loads = 0

    async def insert(self, clock: SlaClock) -> bool:
        return self.clocks.setdefault(clock.key, clock) is clock

    async def save_if_running(self, clock: SlaClock) -> bool:
        stored = self.clocks.get(clock.key)
        if stored is None or stored.status != "running":
            return False
        self.clocks[clock.key] = clock
        return True

    async def get(self, key: str) -> SlaClock | None:
        return self.clocks.get(key)

    async def for_ticket(self, ticket_id: str) -> list[SlaClock]:
        return [c for c in self.clocks.values() if c.ticket_id == ticket_id]

    async def running_in(self, partitions: Iterable[int]) -> list[SlaClock]:
        self.loads += 1
        if self.loads <= self.failures:
            raise ConnectionError("database away")
        wanted = set(partitions)
        return [c for c in self.clocks.values() if c.status == "running" and c.partition in wanted]

    async def remember_reply(self, reply: EarlyReply) -> None: ...
    async def early_reply(self, ticket_id: str) -> EarlyReply | None: ...
    async def remember_resolution(self, resolution: EarlyResolution) -> None: ...
    async def forget_resolution(self, ticket_id: str) -> None: ...
    async def early_resolution(self, ticket_id: str) -> EarlyResolution | None: ...


class MemoryProcessed:
    def __init__(self) -> None:
        self.done: set[str] = set()

    async def seen(self, consumer: str, event_id: Any) -> bool:
        return f"{consumer}:{event_id}" in self.done

    async def mark(self, consumer: str, event_id: Any) -> None:
        self.done.add(f"{consumer}:{event_id}")


class HoldingBroker:
    """Records what is published; holds a breach in flight until the test releases it."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def publish(self, body: dict[str, Any], **_: Any) -> None:
        self.sent.append(body["event_type"])
        if body["event_type"] == "sla.breached":
            self.holding.set()
            await self.release.wait()


def _state(store: MemoryStore, clock: FakeClock | None = None) -> SlaState:
    return SlaState(
        policies=POLICIES,
        store=store,
        processed=MemoryProcessed(),  # type: ignore[arg-type]
        timer=DeadlineHeap(),
        clock=clock or FakeClock(START),
    )


async def test_reply_in_time_while_the_breach_is_published_leaves_the_clock_breached_only() -> None:
    clock = _clock()
    store = MemoryStore([clock])
    state = _state(store, FakeClock(clock.due_at + timedelta(seconds=1)))
    broker: Any = HoldingBroker()
    settings = SlaSettings()
    replied = TicketAgentReplied(
        ticket_id="t-1", agent_id="a-1", body="Try this", occurred_at=START + timedelta(minutes=30)
    )

    firing = asyncio.create_task(fire_deadline(broker, settings, state, clock.key))
    await broker.holding.wait()
    replying = asyncio.create_task(handle(broker, settings, state, replied, partition=0))
    # Every store call is in memory, so a few turns of the loop take the reply as far as it can
    # go while the breach is in flight: to its end if nothing stops it.
    for _ in range(20):
        await asyncio.sleep(0)
    broker.release.set()
    await asyncio.gather(firing, replying)

    assert broker.sent == ["sla.breached"]
    assert store.clocks[clock.key].status == "breached"


def test_a_ticket_always_gets_the_same_lock_from_a_fixed_pool() -> None:
    state = _state(MemoryStore())
    assert len(state.locks) == LOCK_STRIPES
    assert state.lock_for("t-1") is state.lock_for("t-1")
    assert len({id(state.lock_for(f"t-{n}")) for n in range(10_000)}) == LOCK_STRIPES


def _listener(state: SlaState) -> PartitionListener:
    return PartitionListener(
        state, first_delay=timedelta(milliseconds=1), max_delay=timedelta(milliseconds=5)
    )


async def test_clocks_of_assigned_partitions_are_loaded_once_the_database_answers() -> None:
    mine, other = _clock("t-1", partition=0), _clock("t-2", partition=1)
    store = MemoryStore([mine, other], failures=7)
    state = _state(store)
    listener = _listener(state)

    with capture_logs() as logs:
        await listener.on_partitions_assigned({TopicPartition("tickets", 0)})
        await eventually(lambda: mine.key in state.timer.keys(), timeout=5.0, interval=0.01)
    try:
        assert store.loads == 8
        assert list(state.timer.keys()) == [mine.key]
        assert not listener.retrying
        failures = [entry for entry in logs if entry["event"] == "sla.load_failed"]
        assert [entry["attempt"] for entry in failures] == list(range(1, 8))
    finally:
        await listener.stop()


async def test_revoking_the_partitions_or_stopping_ends_the_retries() -> None:
    store = MemoryStore([_clock()], failures=1_000_000)
    state = _state(store)
    listener = _listener(state)

    await listener.on_partitions_assigned({TopicPartition("tickets", 0)})
    assert listener.retrying
    await listener.on_partitions_revoked({TopicPartition("tickets", 0)})
    assert not listener.retrying

    await listener.on_partitions_assigned({TopicPartition("tickets", 0)})
    assert listener.retrying
    await listener.stop()
    assert not listener.retrying
    assert list(state.timer.keys()) == []
