"""One replica's coordination, with in-memory stand-ins: ticket locks, loading armed tickets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from aiokafka import TopicPartition
from structlog.testing import capture_logs

from devstack.sla_config import write_fast_sla
from services.sla.config import load_config
from services.sla.domain import transitions
from services.sla.domain.ticket import Finished, Rules, TicketSla
from services.sla.partitions import PartitionListener
from services.sla.service import SlaService
from services.sla.state import SlaState
from services.sla.store import Armed, Save, Saved, Stored
from services.sla.store_memory import MemorySlaStore
from services.sla.timer import DeadlineHeap
from shared.clock import FakeClock
from shared.events import TicketAgentReplied, TicketRouted
from tests.conftest import eventually
from tests.unit.sla_desk import RecordingPublisher, take

START = FakeClock().now()


def _rules(folder: Path) -> Rules:
    return load_config(write_fast_sla(folder, first_response="PT1H", resolution="PT8H"))


def _ticket(rules: Rules, ticket_id: str = "t-1", partition: int = 0) -> TicketSla:
    routed = TicketRouted(
        ticket_id=ticket_id,
        category="network",
        impact="medium",
        urgency="high",
        priority="P2",
        tier="L1",
        team="technical",
        reason="wifi",
        occurred_at=START,
    )
    fresh = TicketSla(ticket_id=ticket_id, partition=partition)
    return transitions.routed(fresh, routed, rules, START, partition).ticket


def _first_response_due(ticket: TicketSla) -> datetime:
    first = ticket.clock("first_response")
    assert first is not None and first.due_at is not None
    return first.due_at


class MemoryStore(MemorySlaStore):
    """The SLA store in memory; keeps every finished target saved, and the first `failures`
    loads of armed tickets fail."""

    def __init__(self, tickets: Iterable[TicketSla] = (), *, failures: int = 0) -> None:
        super().__init__(Stored(t, 1) for t in tickets)
        self.finished: list[Finished] = []
        self.failures = failures
        self.loads = 0

    async def save_all(self, saves: Sequence[Save]) -> Saved:
        outcome = await super().save_all(saves)
        self.finished.extend(
            f for s in saves if s.ticket.ticket_id in outcome.saved for f in s.finished
        )
        return outcome

    async def armed_in(self, partitions: Iterable[int]) -> AsyncIterator[Armed]:
        self.loads += 1
        if self.loads <= self.failures:
            raise ConnectionError("database away")
        async for armed in super().armed_in(partitions):
            yield armed


def _state(store: MemoryStore, rules: Rules, clock: FakeClock | None = None) -> SlaState:
    return SlaState(
        rules=rules,
        store=store,
        timer=DeadlineHeap(),
        clock=clock or FakeClock(START),
    )


def _service(state: SlaState, publisher: RecordingPublisher) -> SlaService:
    return SlaService(state, publisher)


async def test_reply_in_time_while_the_breach_is_published_leaves_the_clock_breached_only(
    tmp_path: Path,
) -> None:
    rules = _rules(tmp_path)
    ticket = _ticket(rules)
    first_due = _first_response_due(ticket)
    store = MemoryStore([ticket])
    state = _state(store, rules, FakeClock(first_due + timedelta(seconds=1)))
    broker = RecordingPublisher(hold_breaches=True)
    service = _service(state, broker)
    replied = TicketAgentReplied(
        ticket_id="t-1", agent_id="a-1", body="Try this", occurred_at=START + timedelta(minutes=30)
    )

    firing = asyncio.create_task(service.fire("t-1"))
    await broker.holding.wait()
    replying = asyncio.create_task(take(service, replied))
    # Every store call is in memory, so a few turns of the loop take the reply as far as it can
    # go while the breach is in flight: to its end if nothing stops it.
    for _ in range(20):
        await asyncio.sleep(0)
    broker.release.set()
    await asyncio.gather(firing, replying)

    assert broker.sent == ["sla.breached"]
    stored = store.tickets["t-1"][0].clock("first_response")
    assert stored is not None and stored.status == "breached"
    assert [(f.clock.metric, f.clock.status) for f in store.finished] == [
        ("first_response", "breached"),
        ("first_response", "breached"),
    ]
    assert store.finished[-1].clock.satisfied_at is not None  # the late reply's time is kept


def test_a_ticket_keeps_its_lock_while_in_use_and_unused_locks_are_collected(
    tmp_path: Path,
) -> None:
    state = _state(MemoryStore(), _rules(tmp_path))
    held = state.lock_for("t-1")
    assert state.lock_for("t-1") is held
    assert state.lock_for("t-2") is not held
    for n in range(10_000):
        state.lock_for(f"t-{n}")
    assert set(state.locks.keys()) == {"t-1"}  # only the lock still referenced remains


def _listener(state: SlaState) -> PartitionListener:
    return PartitionListener(
        state, first_delay=timedelta(milliseconds=1), max_delay=timedelta(milliseconds=5)
    )


async def test_tickets_of_assigned_partitions_are_loaded_once_the_database_answers(
    tmp_path: Path,
) -> None:
    rules = _rules(tmp_path)
    mine, other = _ticket(rules, "t-1", partition=0), _ticket(rules, "t-2", partition=1)
    store = MemoryStore([mine, other], failures=7)
    state = _state(store, rules)
    listener = _listener(state)

    with capture_logs() as logs:
        await listener.on_partitions_assigned({TopicPartition("tickets", 0)})
        await eventually(lambda: mine.ticket_id in state.timer.keys(), timeout=5.0, interval=0.01)
    try:
        assert store.loads == 8
        assert list(state.timer.keys()) == [mine.ticket_id]
        assert not listener.retrying
        failures = [entry for entry in logs if entry["event"] == "sla.load_failed"]
        assert [entry["attempt"] for entry in failures] == list(range(1, 8))
    finally:
        await listener.stop()


async def test_revoking_the_partitions_or_stopping_ends_the_retries(tmp_path: Path) -> None:
    rules = _rules(tmp_path)
    store = MemoryStore([_ticket(rules)], failures=1_000_000)
    state = _state(store, rules)
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


class LeftBehind(MemoryStore):
    """The index holds an entry a crash left behind beside the ticket's real one."""

    def __init__(self, ticket: TicketSla, stale: datetime) -> None:
        super().__init__([ticket])
        self.stale = stale

    async def armed_in(self, partitions: Iterable[int]) -> AsyncIterator[Armed]:
        async for armed in super().armed_in(partitions):
            yield armed
            yield armed._replace(next_at=self.stale)


async def test_an_entry_left_behind_never_puts_off_a_deadline_when_partitions_load(
    tmp_path: Path,
) -> None:
    rules = _rules(tmp_path)
    for offset in (timedelta(hours=1), -timedelta(minutes=10)):
        ticket = _ticket(rules)
        assert ticket.next_at is not None
        state = _state(LeftBehind(ticket, ticket.next_at + offset), rules)
        listener = _listener(state)
        await listener.on_partitions_assigned({TopicPartition("tickets", 0)})
        # The earlier of the two: firing early only reads the ticket and arms it again.
        assert state.timer.due("t-1") == min(ticket.next_at, ticket.next_at + offset)
        await listener.stop()


async def test_a_ticket_stored_under_other_policies_fires_at_once_to_be_recomputed(
    tmp_path: Path,
) -> None:
    rules = _rules(tmp_path)
    ticket = _ticket(rules).model_copy(update={"version": "older-policies"})
    state = _state(MemoryStore([ticket]), rules, FakeClock(START + timedelta(minutes=5)))
    listener = _listener(state)

    await listener.on_partitions_assigned({TopicPartition("tickets", 0)})
    heap = state.timer
    assert isinstance(heap, DeadlineHeap)
    assert heap.next_due() == START + timedelta(minutes=5)
    await listener.stop()


async def test_a_ticket_read_ahead_of_its_deadline_sees_a_reply_that_came_meanwhile(
    tmp_path: Path,
) -> None:
    rules = _rules(tmp_path)
    ticket = _ticket(rules)
    first = ticket.clock("first_response")
    assert first is not None and first.due_at is not None and ticket.next_at is not None
    store = MemoryStore([ticket])
    clock = FakeClock(ticket.next_at - timedelta(milliseconds=300))
    state = _state(store, rules, clock)
    state.read_ahead = timedelta(seconds=1)
    broker = RecordingPublisher()
    service = _service(state, broker)
    # The 50% warning is the ticket's next moment; the timer hands it over 300 ms early.
    firing = asyncio.create_task(service.fire("t-1"))
    await eventually(lambda: state.ahead.get("t-1") is not None, timeout=2.0, interval=0.01)
    replied = TicketAgentReplied(
        ticket_id="t-1", agent_id="a-1", body="Try this", occurred_at=clock.now()
    )
    await take(service, replied)
    clock.advance(timedelta(milliseconds=301))
    await firing

    assert broker.sent == ["sla.met"]  # no warning for a first response already met
    assert store.reads == 2  # the read ahead and the reply batch's: none at the moment itself
    stored = store.tickets["t-1"][0]
    assert stored.next_at is not None and stored.next_at > clock.now()
    assert state.ahead == {}


class SlowSavingStore(MemoryStore):
    """Saves wait until the test lets them through, as on a database that has fallen behind."""

    def __init__(self, tickets: Iterable[TicketSla]) -> None:
        super().__init__(tickets)
        self.saving = asyncio.Event()
        self.let_through = asyncio.Event()

    async def save_all(self, saves: Sequence[Save]) -> Saved:
        self.saving.set()
        await self.let_through.wait()
        return await super().save_all(saves)


async def test_a_firing_cut_off_after_publishing_is_not_decided_again_by_its_retry(
    tmp_path: Path,
) -> None:
    rules = _rules(tmp_path)
    ticket = _ticket(rules)
    first_due = _first_response_due(ticket)
    store = SlowSavingStore([ticket])
    state = _state(store, rules, FakeClock(first_due + timedelta(seconds=1)))
    broker = RecordingPublisher()
    service = _service(state, broker)

    firing = asyncio.create_task(service.fire("t-1"))
    await store.saving.wait()
    firing.cancel()  # what the timer's timeout does to a firing that takes too long
    retry = asyncio.create_task(service.fire("t-1"))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not retry.done()  # it waits for the save of the first firing
    store.let_through.set()
    await retry

    assert broker.sent == ["sla.breached"]
    stored = store.tickets["t-1"][0].clock("first_response")
    assert stored is not None and stored.status == "breached"
    assert state.persisting == {}
