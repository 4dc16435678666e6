"""The router's use cases on the in-memory store, fed batches through the consumer kit: new
tickets in bulk (few store calls a batch, later tickets seeing earlier ones' load), events of one
ticket in order, a poison record alone dead-lettered, crashes between claim, save and settle
redone to the same decision, and two replicas racing for an agent's last slot."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaBroker, TestKafkaBroker

from services.router.config import RouterConfig, load_config
from services.router.handlers import register
from services.router.service import RouterService
from services.router.settings import RouterSettings
from services.router.store import RoutingStore
from services.router.store_memory import MemoryRoutingStore
from shared.clock import FakeClock
from shared.consuming import ConsumerKit
from shared.directory import Directory
from shared.events import (
    Event,
    RoutingEvent,
    TicketAssigned,
    TicketNoteAdded,
    TicketOpened,
    TicketQueued,
    TicketRouted,
    TicketStatusChanged,
    TicketTransferRequested,
    routing_events,
)
from shared.idempotency import MemoryGuard

ROOT = Path(__file__).resolve().parents[2]
CONFIG: RouterConfig = load_config(ROOT / "config")


def _roomy() -> RouterConfig:
    """The shipped rules with every agent's capacity raised, as the benchmark runs them."""
    data = CONFIG.directory.model_dump()
    for team in data["teams"]:
        for agent in team["agents"]:
            agent["capacity"] = dict.fromkeys(("email", "chat", "phone"), 1_000_000)
    return load_config(ROOT / "config", directory=Directory.model_validate(data))


ROOMY = _roomy()
#: A Monday at noon in Athens: every shift is open.
NOON = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
WIFI = "The wifi in our office keeps dropping, the router reboots every hour"


class Crash(BaseException):
    """The process dies here: nothing after it runs, and the kit does not catch it."""


class Store(MemoryRoutingStore):
    """The in-memory store, counting calls, yielding to other tasks before each (as a database
    round trip does), and crashing once at a chosen call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()
        self.crash_at: str | None = None

    def __getattribute__(self, name: str) -> Any:
        method = super().__getattribute__(name)
        if name.startswith("_") or not asyncio.iscoroutinefunction(method):
            return method

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            await asyncio.sleep(0)
            if self.crash_at == name:
                self.crash_at = None
                raise Crash(name)
            return await method(*args, **kwargs)

        return counted


class Replica:
    """One router process on a shared store: its kit, its service and what it published."""

    def __init__(self, store: RoutingStore, config: RouterConfig = CONFIG) -> None:
        self.settings = RouterSettings(config_dir=ROOT / "config")
        self.broker = KafkaBroker()
        self.kit = ConsumerKit(self.broker, self.settings, MemoryGuard())
        routing = self.kit.publisher(self.settings.topics.routing, RoutingEvent, title="routing")
        self.store = store
        self.service = RouterService(
            config=config,
            store=store,
            clock=FakeClock(NOON),
            score_many=lambda texts: [{} for _ in texts],
            routing=routing,
        )
        register(self.kit, self.service)
        self.decisions: list[Any] = []
        self.letters: list[dict[str, Any]] = []

        @self.broker.subscriber(self.settings.topics.routing)
        async def decided(body: dict[str, Any]) -> None:
            self.decisions.append(routing_events.validate_python(body))

        @self.broker.subscriber(self.settings.topics.deadletter)
        async def letters(body: dict[str, Any]) -> None:
            self.letters.append(body)

    async def feed(self, *items: Event | bytes, name: str = "router.on_ticket") -> None:
        async with TestKafkaBroker(self.broker):
            await self.service.prepare()
            await self.kit.consume(self.kit.subscriptions[name], records(items))

    def of(self, kind: type[Any], ticket_id: str | None = None) -> list[Any]:
        return [
            d
            for d in self.decisions
            if isinstance(d, kind) and (ticket_id is None or d.ticket_id == ticket_id)
        ]


def records(items: Sequence[Event | bytes]) -> list[ConsumerRecord[bytes, bytes]]:
    out = []
    for offset, item in enumerate(items):
        key: bytes | None
        if isinstance(item, bytes):
            value, key = item, b"poison"
        else:
            value, key = json.dumps(item.model_dump(mode="json")).encode(), item.kafka_key()
        out.append(ConsumerRecord("t", 0, offset, 0, 0, key, value, None, 1, len(value), []))
    return out


def opened(ticket_id: str, channel: Any = "chat", text: str = WIFI, **fields: Any) -> TicketOpened:
    fields.setdefault("customer_id", f"cu-{ticket_id}")
    return TicketOpened(
        ticket_id=ticket_id,
        reference="HD-AAAAAA",
        contact_id=f"c-{ticket_id}",
        subject=text,
        channel=channel,
        language="en",
        **fields,
    )


def load(store: MemoryRoutingStore, agent_id: str = "ag-maria") -> dict[str, int]:
    return {ch: n for ch, n in store.agents[agent_id].get("load", {}).items() if n}


def in_flight(store: MemoryRoutingStore) -> list[str]:
    return [s["k"] for record in store.agents.values() for s in record.get("slots", ())]


async def test_a_batch_of_new_tickets_costs_the_same_few_store_calls_whatever_its_size() -> None:
    costs = []
    for size in (3, 30):
        store = Store()
        replica = Replica(store, ROOMY)
        await replica.feed(
            *(opened(f"t-{n}", "email", customer_id=f"cu-{n % 7}") for n in range(size))
        )
        assert len(replica.of(TicketAssigned)) == size
        costs.append(sum(store.calls.values()) - store.calls["prepare_agents"])
    assert costs[0] == costs[1] <= 8


async def test_later_tickets_of_a_batch_see_the_load_earlier_ones_took() -> None:
    store = Store()
    replica = Replica(store)
    # ag-maria (technical L1) holds 3 chats at most.
    await replica.feed(*(opened(f"chat-{n}") for n in range(4)))
    assert [a.ticket_id for a in replica.of(TicketAssigned)] == ["chat-0", "chat-1", "chat-2"]
    [queued] = replica.of(TicketQueued)
    assert queued.ticket_id == "chat-3" and "at capacity on chat" in queued.reason
    assert load(store) == {"chat": 3} and in_flight(store) == []
    assert [t.ticket_id for t in await store.held_by("ag-maria", 10)] == [
        "chat-0",
        "chat-1",
        "chat-2",
    ]


async def test_several_events_of_one_ticket_are_handled_in_order_in_one_batch() -> None:
    store = Store()
    replica = Replica(store)
    await replica.feed(
        opened("t-1"),
        opened("t-2"),
        TicketNoteAdded(ticket_id="t-1", agent_id="ag-maria", body="looking"),
        TicketStatusChanged(ticket_id="t-1", status="resolved", agent_id="ag-maria"),
    )
    first = store.tickets_by_id["t-1"][0]
    assert first.state == "closed" and first.acknowledged
    assert any("acknowledged by ag-maria" in line for line in first.history)
    assert store.tickets_by_id["t-2"][0].state == "assigned"
    assert load(store) == {"chat": 1} and in_flight(store) == []


async def test_a_poison_record_is_dead_lettered_while_the_rest_of_its_batch_is_handled() -> None:
    store = Store()
    replica = Replica(store)
    await replica.feed(
        opened("t-1"),
        b"{not json",
        TicketTransferRequested(
            ticket_id="t-1", agent_id="ag-maria", to_team="nowhere", reason="wrong desk"
        ),
        opened("t-2"),
    )
    assert [a.ticket_id for a in replica.of(TicketAssigned)] == ["t-1", "t-2"]
    reasons = sorted(letter["reason"] for letter in replica.letters)
    assert len(reasons) == 2
    assert reasons[0].startswith("JSONDecodeError")
    assert "unknown team 'nowhere'" in reasons[1]
    assert store.tickets_by_id["t-1"][0].team == "technical"


async def test_a_crash_between_claim_and_save_decides_the_same_after_redelivery() -> None:
    store = Store()
    store.crash_at = "insert_tickets"
    replica = Replica(store)
    batch = [opened("t-1"), opened("t-2")]
    try:
        await replica.feed(*batch)
    except Crash:
        pass
    assert store.tickets_by_id == {} and load(store) == {"chat": 2}  # claimed, never saved
    again = Replica(store)  # the records are redelivered, to this replica or another
    await again.feed(*batch)
    first, second = replica.of(TicketAssigned), again.of(TicketAssigned)
    assert [(a.event_id, a.agent_id) for a in first] == [(a.event_id, a.agent_id) for a in second]
    assert [r.event_id for r in replica.of(TicketRouted)] == [
        r.event_id for r in again.of(TicketRouted)
    ]
    assert load(store) == {"chat": 2} and in_flight(store) == []
    assert set(store.tickets_by_id) == {"t-1", "t-2"}


async def test_a_crash_between_save_and_settle_counts_once_after_redelivery() -> None:
    store = Store()
    store.crash_at = "settle_slots"
    replica = Replica(store)
    try:
        await replica.feed(opened("t-1"))
    except Crash:
        pass
    assert len(in_flight(store)) == 1
    await Replica(store).feed(opened("t-1"))
    assert load(store) == {"chat": 1} and in_flight(store) == []
    assert store.customer_records["cu-t-1"]["tickets"] == ["t-1"]


async def test_a_release_repeated_after_a_crash_frees_the_slot_once() -> None:
    store = Store()
    replica = Replica(store)
    await replica.feed(opened("t-1"), opened("t-2"))
    assert load(store) == {"chat": 2}
    resolved = TicketStatusChanged(ticket_id="t-1", status="resolved", agent_id="ag-maria")
    store.crash_at = "save_tickets"
    try:
        await replica.feed(resolved)
    except Crash:
        pass
    assert load(store) == {"chat": 1}  # released, the ticket not saved yet
    await Replica(store).feed(resolved)
    assert load(store) == {"chat": 1} and in_flight(store) == []
    assert store.tickets_by_id["t-1"][0].state == "closed"


async def test_two_replicas_racing_for_the_last_slot_give_it_to_one() -> None:
    store = Store()
    first = Replica(store)
    await first.feed(opened("t-1"), opened("t-2"))
    second = Replica(store)
    await asyncio.gather(first.feed(opened("t-3")), second.feed(opened("t-4")))
    assigned = first.of(TicketAssigned, "t-3") + second.of(TicketAssigned, "t-4")
    queued = first.of(TicketQueued, "t-3") + second.of(TicketQueued, "t-4")
    assert len(assigned) == 1 and len(queued) == 1
    assert load(store) == {"chat": 3} and in_flight(store) == []


async def test_a_dead_lettered_new_ticket_gives_back_what_nobody_claimed() -> None:
    store = Store()
    replica = Replica(store)
    # A transfer to an unknown team is refused for good; the batch's new tickets carry on.
    await replica.feed(
        opened("t-1"),
        TicketTransferRequested(ticket_id="t-9", agent_id="ag-maria", to_team="x", reason="-"),
    )
    assert load(store) == {"chat": 1} and in_flight(store) == []
