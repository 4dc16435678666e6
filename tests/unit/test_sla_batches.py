"""The SLA subscriber's batches on the in-memory store: several inputs of one ticket in order,
one read and one save per batch whatever its size, a bad record set aside alone, lost races
redone alone, and a redelivered batch that changes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from faststream.kafka import TestKafkaBroker

from services.sla import service as service_module
from services.sla.app import build_app
from services.sla.domain.inputs import decide
from services.sla.settings import SlaSettings
from services.sla.store import Save, Saved, Stored
from services.sla.store_memory import MemorySlaStore
from shared.clock import FakeClock
from shared.events import (
    Event,
    TicketAgentReplied,
    TicketAssigned,
    TicketNoteAdded,
    TicketOpened,
    TicketRouted,
    TicketStatusChanged,
)
from tests.unit.sla_desk import RULES, RecordingPublisher, athens, memory_service, take

NOW = athens(23, 10)


def _opened(ticket_id: str) -> TicketOpened:
    return TicketOpened(
        ticket_id=ticket_id,
        occurred_at=NOW,
        reference=f"HD-{ticket_id}",
        contact_id=f"c-{ticket_id}",
        customer_id="cu-1",
        customer_plan="standard",
        channel="email",
        correlation_id=f"c-{ticket_id}",
    )


def _routed(ticket_id: str) -> TicketRouted:
    return TicketRouted(
        ticket_id=ticket_id,
        occurred_at=NOW,
        category="network",
        impact="medium",
        urgency="medium",
        priority="P3",
        tier="L1",
        team="technical",
        reason="wifi",
    )


def _assigned(ticket_id: str) -> TicketAssigned:
    return TicketAssigned(
        ticket_id=ticket_id, occurred_at=NOW, agent_id="a-1", team="technical", reason="free"
    )


def _replied(ticket_id: str) -> TicketAgentReplied:
    return TicketAgentReplied(ticket_id=ticket_id, occurred_at=NOW, agent_id="a-1", body="Hi")


def _desk(store: MemorySlaStore | None = None) -> tuple[Any, MemorySlaStore, RecordingPublisher]:
    store = store or MemorySlaStore()
    publisher = RecordingPublisher()
    return memory_service(store, RULES, FakeClock(NOW), publisher), store, publisher


def _kinds(events: list[Event]) -> list[tuple[str, str, str]]:
    return [(e.ticket_id or "", e.event_type, e.metric) for e in events]  # type: ignore[attr-defined]


async def test_several_inputs_of_one_ticket_in_one_batch_are_applied_in_order() -> None:
    service, store, published = _desk()
    inputs = [_opened("t-1"), _routed("t-1"), _assigned("t-1"), _replied("t-1")]
    await take(service, *inputs)

    assert _kinds(published.events) == [
        ("t-1", "sla.started", "first_response"),
        ("t-1", "sla.started", "resolution"),
        ("t-1", "sla.met", "first_response"),
    ]
    stored = store.tickets["t-1"]
    assert stored.revision == 1  # one save for the four inputs
    assert stored.ticket.assignee_id == "a-1" and stored.ticket.correlation_id == "c-t-1"
    assert stored.ticket.applied == tuple(str(e.event_id) for e in inputs)
    assert (store.reads, store.writes) == (1, 1)
    assert service.state.timer.due("t-1") == stored.ticket.next_at


async def test_a_batch_costs_one_read_and_one_save_at_ten_tickets_as_at_a_hundred() -> None:
    for count in (10, 100):
        service, store, published = _desk()
        inputs = [f(f"t-{n}") for n in range(count) for f in (_opened, _routed, _assigned)]
        await take(service, *inputs)
        assert len(published.events) == 2 * count
        assert (store.reads, store.writes) == (1, 1), count
        assert {s.revision for s in store.tickets.values()} == {1}


async def test_a_redelivered_batch_publishes_nothing_and_saves_nothing() -> None:
    service, store, published = _desk()
    inputs = [_opened("t-1"), _routed("t-1"), _routed("t-2")]
    await take(service, *inputs)
    first = list(published.events)
    await take(service, *inputs)
    assert published.events == first
    assert store.writes == 1


class FailingOnce(MemorySlaStore):
    """The database goes away at the first save, after the events went out."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    async def save_all(self, saves: Sequence[Save]) -> Saved:
        if not self.failed:
            self.failed = True
            raise ConnectionError("database away")
        return await super().save_all(saves)


async def test_a_save_that_fails_after_publishing_publishes_the_same_ids_when_redone() -> None:
    service, store, published = _desk(FailingOnce())
    inputs = [_routed("t-1"), _routed("t-2")]
    with pytest.raises(ConnectionError):
        await take(service, *inputs)
    first = [e.event_id for e in published.events]
    await take(service, *inputs)  # what the kit does: the same batch again
    assert [e.event_id for e in published.events] == first * 2
    assert {t: s.revision for t, s in store.tickets.items()} == {"t-1": 1, "t-2": 1}


async def test_a_record_that_fails_for_good_is_set_aside_and_its_ticket_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    poison = TicketStatusChanged(ticket_id="t-1", occurred_at=NOW, status="pending")

    def fragile(ticket: Any, event: Any, *args: Any) -> Any:
        if event.event_id == poison.event_id:
            raise ValueError("cannot pause this one")
        return decide(ticket, event, *args)

    monkeypatch.setattr(service_module, "decide", fragile)
    service, store, published = _desk()
    batch = await take(service, _routed("t-1"), poison, _replied("t-1"), _routed("t-2"))

    assert [(d.event.event_id, str(exc)) for d, exc in batch.failed] == [
        (poison.event_id, "cannot pause this one")
    ]
    assert _kinds(published.events) == [
        ("t-1", "sla.started", "first_response"),
        ("t-1", "sla.started", "resolution"),
        ("t-1", "sla.met", "first_response"),  # the reply saw clocks running, not paused
        ("t-2", "sla.started", "first_response"),
        ("t-2", "sla.started", "resolution"),
    ]
    assert store.tickets["t-1"].ticket.state == "open"
    assert str(poison.event_id) not in store.tickets["t-1"].ticket.applied


class RacedBy(MemorySlaStore):
    """Another replica saves `ticket_id` (the same routing) just before this one's first save."""

    def __init__(self, ticket_id: str) -> None:
        super().__init__()
        self.ticket_id = ticket_id
        self.saved_ids: list[list[str]] = []
        self.read_ids: list[list[str]] = []

    async def load(self, ticket_ids: Any) -> dict[str, Stored]:
        ids = list(ticket_ids)
        self.read_ids.append(ids)
        return await super().load(ids)

    async def save_all(self, saves: Sequence[Save]) -> Saved:
        if not self.saved_ids:
            other = next(s for s in saves if s.ticket.ticket_id == self.ticket_id)
            self.tickets[self.ticket_id] = Stored(other.ticket, 1, "elsewhere")
        self.saved_ids.append([s.ticket.ticket_id for s in saves])
        return await super().save_all(saves)


async def test_tickets_another_replica_saved_first_are_read_again_and_redone_alone() -> None:
    service, store, published = _desk(RacedBy("t-2"))
    assert isinstance(store, RacedBy)
    await take(service, _routed("t-1"), _routed("t-2"), _replied("t-2"), _routed("t-3"))

    assert store.read_ids == [["t-1", "t-2", "t-3"], ["t-2"]]
    assert store.saved_ids == [["t-1", "t-2", "t-3"], ["t-2"]]
    # The other replica had applied all of t-2's inputs: the redo finds nothing new to say,
    # and saves it once more only so its timer entry is written over the losing attempt's.
    assert {t: s.revision for t, s in store.tickets.items()} == {"t-1": 1, "t-2": 2, "t-3": 1}
    assert [e.ticket_id for e in published.events].count("t-2") == 3


def _record(topic: str, value: bytes, offset: int, key: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(topic, 0, offset, 0, 0, key, value, None, 1, len(value), [])


async def test_through_the_kit_a_bad_record_is_dead_lettered_and_the_rest_handled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    poison = _replied("t-1")

    def fragile(ticket: Any, event: Any, *args: Any) -> Any:
        if event.event_id == poison.event_id:
            raise ValueError("this reply cannot be judged")
        return decide(ticket, event, *args)

    monkeypatch.setattr(service_module, "decide", fragile)
    settings = SlaSettings(environment="local")
    store = MemorySlaStore()
    service = build_app(settings, store=store, clock=FakeClock(NOW), rules=RULES)
    assert service.kit is not None
    sla: list[dict[str, Any]] = []
    letters: list[dict[str, Any]] = []

    @service.broker.subscriber(settings.topics.sla)
    async def on_sla(body: dict[str, Any]) -> None:
        sla.append(body)

    @service.broker.subscriber(settings.topics.deadletter)
    async def on_letter(body: dict[str, Any]) -> None:
        letters.append(body)

    tickets, routing = settings.topics.tickets, settings.topics.routing
    note = TicketNoteAdded(ticket_id="t-1", agent_id="a-1", body="not acted on")
    records = [
        _record(routing, _routed("t-1").model_dump_json().encode(), 0, b"t-1"),
        _record(tickets, b"{not json", 1, b"t-1"),
        _record(tickets, poison.model_dump_json().encode(), 2, b"t-1"),
        _record(tickets, note.model_dump_json().encode(), 3, b"t-1"),
        _record(routing, _routed("t-2").model_dump_json().encode(), 4, b"t-2"),
    ]
    spec = service.kit.subscriptions["sla.on_ticket"]
    async with TestKafkaBroker(service.broker):
        await service.kit.consume(spec, records)
    await service.mongo.close()

    assert [(e["ticket_id"], e["event_type"]) for e in sla] == [
        ("t-1", "sla.started"),
        ("t-1", "sla.started"),
        ("t-2", "sla.started"),
        ("t-2", "sla.started"),
    ]
    assert sorted(letter["offset"] for letter in letters) == [1, 2]
    reasons = {letter["offset"]: letter["reason"] for letter in letters}
    assert reasons[2] == "ValueError: this reply cannot be judged"
    assert (store.reads, store.writes) == (1, 1)


async def test_deadlines_falling_due_together_are_read_and_saved_together() -> None:
    seed, store, _ = _desk()
    await take(seed, *[_routed(f"t-{n}") for n in range(50)])
    first = store.tickets["t-0"].ticket.clock("first_response")
    assert first is not None and first.due_at is not None
    reads, writes = store.reads, store.writes
    published = RecordingPublisher()
    clock = FakeClock(first.due_at + timedelta(seconds=1))
    service = memory_service(store, RULES, clock, published)

    await asyncio.gather(*(service.fire(f"t-{n}") for n in range(50)))

    breaches = [e for e in published.events if e.event_type == "sla.breached"]
    assert sorted(e.ticket_id or "" for e in breaches) == sorted(f"t-{n}" for n in range(50))
    # Fifty firings at one moment: one read and one save between them, not fifty of each.
    assert (store.reads - reads, store.writes - writes) == (1, 1)
    assert {s.revision for s in store.tickets.values()} == {2}
