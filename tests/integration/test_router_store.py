"""The router store's contract, run against MongoDB and the in-memory store alike, so the fake
the simulation runs on behaves as the real one; then a small simulation on the real store."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.router.domain.tickets import QUEUE_SORT, RoutedTicket, queue_key
from services.router.settings import RouterSettings
from services.router.store import MongoRoutingStore, RoutingStore
from shared.mongo import ensure_indexes, make_mongo_client
from tests.router_support import MemoryRoutingStore
from tests.unit.test_router_simulation import Simulation

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "mongo"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[RoutingStore]:
    if request.param == "memory":
        yield MemoryRoutingStore()
        return
    settings = request.getfixturevalue("make_settings")(RouterSettings)
    mongo = make_mongo_client(settings.mongo)
    db = mongo[settings.database_name]
    await ensure_indexes(db, MongoRoutingStore.indexes())
    try:
        yield MongoRoutingStore(db)
    finally:
        await mongo.close()


def _ticket(ticket_id: str, **fields: Any) -> RoutedTicket:
    values: dict[str, Any] = {
        "ticket_id": ticket_id,
        "customer_id": "cu-1",
        "channel": "email",
        "category": "network",
        "priority": "P3",
        "tier": "L1",
        "team": "technical",
    }
    return RoutedTicket(**{**values, **fields})


async def test_a_ticket_is_created_once_and_the_first_record_stands(store: RoutingStore) -> None:
    first = _ticket("t-1", priority="P1")
    assert await store.create_ticket(first) == (first, 0)
    assert await store.create_ticket(_ticket("t-1", priority="P4")) == (first, 0)
    assert await store.ticket("t-1") == (first, 0)
    assert await store.ticket("t-unknown") is None


async def test_a_save_over_a_stale_revision_is_refused(store: RoutingStore) -> None:
    ticket, revision = await store.create_ticket(_ticket("t-1"))
    assigned = ticket.model_copy(update={"state": "assigned", "agent_id": "ag-1"})
    assert await store.save_ticket(assigned, revision)
    assert not await store.save_ticket(ticket.model_copy(update={"state": "closed"}), revision)
    assert await store.ticket("t-1") == (assigned, 1)
    assert not await store.save_ticket(_ticket("t-never-created"), 0)


@pytest.mark.parametrize("order", list(QUEUE_SORT))
async def test_a_queue_reads_in_its_order_and_only_queued_tickets(
    store: RoutingStore, order: Any
) -> None:
    rng = random.Random(order)
    tickets = [
        _ticket(
            f"t-{n:02d}",
            priority=rng.choice(["P1", "P2", "P3", "P4"]),
            difficulty=rng.choice(["easy", "medium", "hard"]),
            tier=rng.choice(["L1", "L2", "L3"]),
            # Distinct arrivals: MongoDB leaves the order of equal keys open.
            queued_seq=1_000 + n * 7 % 40,
            state="queued" if n % 5 else "assigned",
        )
        for n in range(40)
    ]
    tickets.append(_ticket("t-other-team", team="accounts", queued_seq=1))
    for ticket in tickets:
        await store.create_ticket(ticket)
    waiting = [t for t in tickets if t.state == "queued" and t.team == "technical"]
    expected = [t.ticket_id for t in sorted(waiting, key=lambda t: queue_key(t, order))]
    assert [t.ticket_id for t in await store.queued("technical", order, 100)] == expected
    assert [t.ticket_id for t in await store.queued("technical", order, 5)] == expected[:5]
    assert await store.queue_teams() == ["accounts", "technical"]


async def test_acknowledgements_fall_due_in_deadline_order(store: RoutingStore) -> None:
    due = {"t-late": T0 + timedelta(minutes=5), "t-early": T0 + timedelta(minutes=1)}
    for ticket_id, at in due.items():
        await store.create_ticket(_ticket(ticket_id, state="assigned", ack_due_at=at))
    await store.create_ticket(_ticket("t-done", state="assigned", acknowledged=True, ack_due_at=T0))
    await store.create_ticket(_ticket("t-closed", state="closed", ack_due_at=T0))
    assert await store.next_acknowledgement() == T0 + timedelta(minutes=1)
    found = await store.due_acknowledgements(T0 + timedelta(minutes=5), 10)
    assert [t.ticket_id for t in found] == ["t-early", "t-late"]
    assert [t.ticket_id for t in await store.due_acknowledgements(T0, 10)] == []


async def test_tickets_passed_around_come_most_moved_first(store: RoutingStore) -> None:
    for n in range(5):
        await store.create_ticket(_ticket(f"t-{n}", transfer_count=n))
    assert [t.ticket_id for t in await store.passed_around(2, 10)] == ["t-4", "t-3", "t-2"]
    assert [t.ticket_id for t in await store.passed_around(2, 1)] == ["t-4"]


async def test_a_claim_takes_a_slot_up_to_capacity_and_a_repeat_is_free(
    store: RoutingStore,
) -> None:
    assert await store.claim("ag-1", "chat", "t-1", 2, 100)
    assert await store.claim("ag-1", "chat", "t-2", 2, 90)
    assert not await store.claim("ag-1", "chat", "t-3", 2, 110)
    assert await store.claim("ag-1", "chat", "t-1", 2, 120)  # already held: no second slot
    assert await store.claim("ag-1", "email", "t-3", 1, 130)  # channels fill on their own
    records = await store.agent_records(["ag-1", "ag-unknown"])
    assert list(records) == ["ag-1"]
    assert records["ag-1"]["open"] == {"chat": ["t-1", "t-2"], "email": ["t-3"]}
    assert records["ag-1"]["last_assigned"] == 130  # the latest sequence, never an older one

    await store.release("ag-1", "t-1")
    await store.release("ag-unknown", "t-1")
    assert await store.claim("ag-1", "chat", "t-3", 2, 140)
    records = await store.agent_records(["ag-1"])
    assert records["ag-1"]["open"] == {"chat": ["t-2", "t-3"], "email": ["t-3"]}


async def test_a_channel_of_capacity_zero_takes_nothing(store: RoutingStore) -> None:
    await store.set_presence("ag-1", "online", T0)
    assert not await store.claim("ag-1", "phone", "t-1", 0, 100)
    assert (await store.agent_records(["ag-1"]))["ag-1"].get("open", {}).get("phone", []) == []


async def test_concurrent_claims_for_the_last_slots_let_exactly_capacity_win(
    store: RoutingStore,
) -> None:
    await store.set_presence("ag-1", "online", T0)
    assert await store.claim("ag-1", "email", "t-held", 3, 1)
    won = await asyncio.gather(
        *(store.claim("ag-1", "email", f"t-{n}", 3, 2 + n) for n in range(12))
    )
    assert sum(won) == 2
    held = (await store.agent_records(["ag-1"]))["ag-1"]["open"]["email"]
    assert len(held) == 3 and "t-held" in held
    assert {f"t-{n}" for n, ok in enumerate(won) if ok} == set(held) - {"t-held"}


async def test_concurrent_first_claims_of_an_unseen_agent_never_exceed_capacity(
    store: RoutingStore,
) -> None:
    won = await asyncio.gather(*(store.claim("ag-new", "chat", f"t-{n}", 3, n) for n in range(8)))
    held = (await store.agent_records(["ag-new"]))["ag-new"]["open"]["chat"]
    # The first claims all try to create the agent's record; the losers of that race try once
    # more against the record the winner made, so every slot is still taken.
    assert sum(won) == 3 and len(held) == 3


async def test_the_later_presence_report_wins(store: RoutingStore) -> None:
    assert await store.set_presence("ag-1", "online", T0)
    assert not await store.set_presence("ag-1", "online", T0 + timedelta(seconds=1))
    assert await store.set_presence("ag-1", "away", T0 + timedelta(seconds=2))
    assert not await store.set_presence("ag-1", "offline", T0)  # an older report arrives late
    record = (await store.agent_records(["ag-1"]))["ag-1"]
    assert (record["presence"], record["presence_at"]) == ("away", T0 + timedelta(seconds=2))
    # An agent known only from a claim has no presence yet: the first report changes it.
    assert await store.claim("ag-2", "email", "t-1", 5, 1)
    assert await store.set_presence("ag-2", "offline", T0)
    record = (await store.agent_records(["ag-2"]))["ag-2"]
    assert (record["presence"], record["open"]) == ("offline", {"email": ["t-1"]})


async def test_a_customer_record_is_replaced_whole(store: RoutingStore) -> None:
    assert await store.customer("cu-1") is None
    await store.save_customer("cu-1", {"agents": ["ag-1"], "tickets": ["t-1"]})
    await store.save_customer("cu-1", {"agents": ["ag-2", "ag-1"]})
    assert await store.customer("cu-1") == {"_id": "cu-1", "agents": ["ag-2", "ag-1"]}


async def test_desk_keeps_every_invariant_on_the_real_store(make_settings: Any) -> None:
    settings = make_settings(RouterSettings)
    mongo = make_mongo_client(settings.mongo)
    db = mongo[settings.database_name]
    await ensure_indexes(db, MongoRoutingStore.indexes())
    try:
        simulation = Simulation.build(MongoRoutingStore(db), "priority", agents=10, seed=5)
        await simulation.run(tickets=300, bursts=6)
        assert simulation.counts["assigned"] > 150 and simulation.counts["drained"] > 0
    finally:
        await mongo.close()
