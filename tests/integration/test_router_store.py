"""The router store's contract, run against MongoDB and the in-memory store alike, so the fake
the simulation runs on behaves as the real one; then a small simulation on the real store."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.router.domain.slots import NEW, SlotChange, claim, release
from services.router.domain.tickets import QUEUE_SORT, RoutedTicket, queue_key
from services.router.settings import RouterSettings
from services.router.store import MongoRoutingStore, RoutingStore
from services.router.store_memory import MemoryRoutingStore
from shared.events.tickets import Channel
from shared.mongo import ensure_indexes, make_mongo_client
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
    assert [t.ticket_id for t, _ in await store.queued("technical", order, 100)] == expected
    assert [t.ticket_id for t, _ in await store.queued("technical", order, 5)] == expected[:5]
    page = await store.queued("technical", order, 5, skip=5)
    assert [t.ticket_id for t, _ in page] == expected[5:10]
    assert await store.queue_teams() == ["accounts", "technical"]


async def test_acknowledgements_fall_due_in_deadline_order(store: RoutingStore) -> None:
    due = {"t-late": T0 + timedelta(minutes=5), "t-early": T0 + timedelta(minutes=1)}
    for ticket_id, at in due.items():
        await store.create_ticket(_ticket(ticket_id, state="assigned", ack_due_at=at))
    await store.create_ticket(_ticket("t-done", state="assigned", acknowledged=True, ack_due_at=T0))
    await store.create_ticket(_ticket("t-closed", state="closed", ack_due_at=T0))
    # Assigned with no acknowledgement asked for: never due (the read is bounded below).
    await store.create_ticket(_ticket("t-unasked", state="assigned", ack_due_at=None))
    found = await store.due_acknowledgements(T0 + timedelta(minutes=5), 10)
    assert [t.ticket_id for t in found] == ["t-early", "t-late"]
    assert [t.ticket_id for t in await store.due_acknowledgements(T0, 10)] == []


async def test_tickets_passed_around_come_most_moved_first(store: RoutingStore) -> None:
    for n in range(5):
        await store.create_ticket(_ticket(f"t-{n}", transfer_count=n))
    assert [t.ticket_id for t in await store.passed_around(2, 10)] == ["t-4", "t-3", "t-2"]
    assert [t.ticket_id for t in await store.passed_around(2, 1)] == ["t-4"]


def _claim(ticket_id: str, capacity: int, channel: Channel = "chat", **kw: Any) -> SlotChange:
    kw.setdefault("agent_id", "ag-1")
    kw.setdefault("cause", "c1")
    kw.setdefault("sequence", 100)
    return claim(
        kw["agent_id"],
        channel,
        ticket_id,
        NEW,
        kw["cause"],
        capacity=capacity,
        sequence=kw["sequence"],
    )


async def _load(store: RoutingStore, agent_id: str = "ag-1") -> dict[str, int]:
    return dict((await store.agent_records([agent_id]))[agent_id].get("load", {}))


async def _in_flight(store: RoutingStore, agent_id: str = "ag-1") -> list[str]:
    return [s["k"] for s in (await store.agent_records([agent_id]))[agent_id].get("slots", [])]


async def test_a_claim_takes_a_slot_up_to_capacity_and_a_repeat_is_free(
    store: RoutingStore,
) -> None:
    await store.prepare_agents(["ag-1"])
    first, second = _claim("t-1", 2), _claim("t-2", 2, sequence=90)
    assert await store.change_slots([first]) == {first.record}
    assert await store.change_slots([second]) == {second.record}
    assert await store.change_slots([_claim("t-3", 2, sequence=110)]) == set()
    # Repeated after a crash (same ticket, revision and input): in flight already, no 2nd slot.
    assert await store.change_slots([_claim("t-1", 2, sequence=120)]) == {first.record}
    email = _claim("t-3", 1, "email", sequence=130)
    assert await store.change_slots([email]) == {email.record}  # channels fill on their own
    records = await store.agent_records(["ag-1", "ag-unknown"])
    assert list(records) == ["ag-1"]
    assert records["ag-1"]["load"] == {"chat": 2, "email": 1}
    assert records["ag-1"]["last_assigned"] == 130  # the latest sequence, never an older one

    # Saved: the keys are pulled and the counts stay.
    await store.settle_slots([first, second, email], [])
    assert await _load(store) == {"chat": 2, "email": 1} and await _in_flight(store) == []
    freed = release("ag-1", "chat", "t-1", 0, "c2")
    assert await store.change_slots([freed]) == {freed.record}
    assert await store.change_slots([freed]) == {freed.record}  # repeated: frees once
    assert await _load(store) == {"chat": 1, "email": 1}
    third = _claim("t-3", 2, sequence=140)
    assert await store.change_slots([third]) == {third.record}
    assert await _load(store) == {"chat": 2, "email": 1}


async def test_claims_of_one_agent_in_a_batch_are_one_update_within_capacity(
    store: RoutingStore,
) -> None:
    await store.prepare_agents(["ag-1", "ag-2"])
    batch = [_claim(f"t-{n}", 3) for n in range(3)] + [_claim("t-9", 1, agent_id="ag-2")]
    assert await store.change_slots(batch) == {c.record for c in batch}
    assert await _load(store) == {"chat": 3} and await _load(store, "ag-2") == {"chat": 1}
    # Two more than the room left: refused together, the counts untouched.
    assert await store.change_slots([_claim("t-4", 4), _claim("t-5", 4)]) == set()
    assert await _load(store) == {"chat": 3}


async def test_an_undo_reverses_a_change_once_and_a_settle_keeps_it(store: RoutingStore) -> None:
    await store.prepare_agents(["ag-1"])
    kept, lost = _claim("t-1", 5), _claim("t-2", 5)
    await store.change_slots([kept, lost])
    await store.settle_slots([kept], [lost])
    await store.settle_slots([], [lost])  # undone again by whoever finds it: nothing happens
    assert await _load(store) == {"chat": 1} and await _in_flight(store) == []
    freed = release("ag-1", "chat", "t-1", 0, "c2")
    await store.change_slots([freed])
    await store.settle_slots([], [freed, freed])
    assert await _load(store) == {"chat": 1}


async def test_a_channel_of_capacity_zero_takes_nothing(store: RoutingStore) -> None:
    await store.set_presence("ag-1", "online", T0)
    assert await store.change_slots([_claim("t-1", 0, "phone")]) == set()
    assert (await _load(store)).get("phone", 0) == 0


async def test_concurrent_claims_for_the_last_slots_let_exactly_capacity_win(
    store: RoutingStore,
) -> None:
    await store.set_presence("ag-1", "online", T0)
    assert await store.change_slots([_claim("t-held", 3, "email")])
    won = await asyncio.gather(
        *(store.change_slots([_claim(f"t-{n}", 3, "email", cause=f"c{n}")]) for n in range(12))
    )
    assert sum(bool(w) for w in won) == 2
    assert await _load(store) == {"email": 3}
    assert len(await _in_flight(store)) == 3


async def test_concurrent_first_claims_of_an_unseen_agent_never_exceed_capacity(
    store: RoutingStore,
) -> None:
    async def replica(n: int) -> set[str]:
        await store.prepare_agents(["ag-new"])
        return await store.change_slots([_claim(f"t-{n}", 3, agent_id="ag-new")])

    won = await asyncio.gather(*(replica(n) for n in range(8)))
    # Every replica makes sure the record exists (a repeat leaves it as it is): every slot
    # is still taken, and no more.
    assert sum(bool(w) for w in won) == 3 and await _load(store, "ag-new") == {"chat": 3}


async def test_records_of_the_older_shape_get_counters(store: RoutingStore) -> None:
    older = {"_id": "ag-old", "open": {"email": ["t-1", "t-2"]}}
    if isinstance(store, MemoryRoutingStore):
        store.agents["ag-old"] = older
    else:
        assert isinstance(store, MongoRoutingStore)
        await store.agents.collection.insert_one(older)
    await store.prepare_agents(["ag-old"])
    record = (await store.agent_records(["ag-old"]))["ag-old"]
    assert record["load"] == {"email": 2} and "open" not in record


async def test_the_later_presence_report_wins(store: RoutingStore) -> None:
    assert await store.set_presence("ag-1", "online", T0)
    assert not await store.set_presence("ag-1", "online", T0 + timedelta(seconds=1))
    assert await store.set_presence("ag-1", "away", T0 + timedelta(seconds=2))
    assert not await store.set_presence("ag-1", "offline", T0)  # an older report arrives late
    record = (await store.agent_records(["ag-1"]))["ag-1"]
    assert (record["presence"], record["presence_at"]) == ("away", T0 + timedelta(seconds=2))
    # An agent known only from a claim has no presence yet: the first report changes it.
    await store.prepare_agents(["ag-2"])
    assert await store.change_slots([_claim("t-1", 5, "email", agent_id="ag-2")])
    assert await store.set_presence("ag-2", "offline", T0)
    record = (await store.agent_records(["ag-2"]))["ag-2"]
    assert (record["presence"], record["load"]) == ("offline", {"email": 1})


async def test_bulk_saves_tell_which_tickets_lost_a_race(store: RoutingStore) -> None:
    for n in range(3):
        await store.create_ticket(_ticket(f"t-{n}"))
    assert await store.insert_tickets([_ticket("t-0"), _ticket("t-new")]) == {"t-0"}
    assert await store.save_ticket(_ticket("t-1", priority="P1"), 0)  # another replica first
    saved = await store.save_tickets([(_ticket(f"t-{n}", priority="P2"), 0) for n in range(3)])
    assert saved == {"t-0", "t-2"}
    found = await store.tickets(["t-0", "t-1", "t-2", "t-none"])
    assert {i: (t.priority, r) for i, (t, r) in found.items()} == {
        "t-0": ("P2", 1),
        "t-1": ("P1", 1),
        "t-2": ("P2", 1),
    }


async def test_an_agents_tickets_come_from_the_routed_tickets(store: RoutingStore) -> None:
    await store.create_ticket(_ticket("t-1", state="assigned", agent_id="ag-1"))
    await store.create_ticket(_ticket("t-2", state="assigned", agent_id="ag-2"))
    await store.create_ticket(_ticket("t-3", state="closed", agent_id="ag-1"))
    assert [t.ticket_id for t in await store.held_by("ag-1", 10)] == ["t-1"]


async def test_a_customer_record_is_replaced_whole(store: RoutingStore) -> None:
    assert await store.customer("cu-1") is None
    await store.save_customers({"cu-1": {"agents": ["ag-1"], "tickets": ["t-1"]}})
    await store.save_customers({"cu-1": {"agents": ["ag-2", "ag-1"]}})
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
