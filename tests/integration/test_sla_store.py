"""The SLA store's contract, run against MongoDB and the in-memory store alike; then what only
MongoDB's layout shows: the timer index's buckets stay small, a batch costs a few commands."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from services.sla.domain import transitions
from services.sla.domain.ticket import TicketSla
from services.sla.settings import SlaSettings
from services.sla.store import MongoSlaStore, Save, SlaStore, Stored, _document
from services.sla.store_memory import MemorySlaStore
from services.sla.timer_index import CAPACITY, timer_bucket, timer_field
from shared.events import TicketAgentReplied, TicketRouted, TicketStatusChanged
from shared.mongo import DB_COMMANDS, ensure_indexes, make_mongo_client
from tests.unit.sla_desk import RULES, athens

pytestmark = pytest.mark.integration

NOW = athens(23, 10)


def _routed(ticket_id: str, partition: int = 0) -> TicketSla:
    event = TicketRouted(
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
    fresh = TicketSla(ticket_id=ticket_id, partition=partition)
    return transitions.routed(fresh, event, RULES, NOW, partition).ticket


def _replied(stored: Stored) -> Save:
    event = TicketAgentReplied(ticket_id=stored.ticket.ticket_id, agent_id="a-1", body="Hi")
    decision = transitions.agent_replied(stored.ticket, event, RULES, NOW + timedelta(minutes=5))
    return Save(decision.ticket, stored, decision.finished)


def _resolved(stored: Stored) -> Save:
    event = TicketStatusChanged(ticket_id=stored.ticket.ticket_id, status="resolved")
    decision = transitions.status_changed(stored.ticket, event, RULES, NOW + timedelta(hours=1))
    return Save(decision.ticket, stored, decision.finished)


@pytest.fixture
def settings(make_settings: Any) -> SlaSettings:
    made: SlaSettings = make_settings(SlaSettings)
    return made


@pytest.fixture
async def mongo_store(settings: SlaSettings) -> AsyncIterator[tuple[MongoSlaStore, Any]]:
    mongo = make_mongo_client(settings.mongo)
    db = mongo[settings.database_name]
    await ensure_indexes(db, MongoSlaStore.indexes())
    try:
        yield MongoSlaStore(db), db
    finally:
        await mongo.close()


@pytest.fixture(params=["memory", "mongo"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[SlaStore]:
    if request.param == "memory":
        yield MemorySlaStore()
        return
    settings = request.getfixturevalue("settings")
    mongo = make_mongo_client(settings.mongo)
    db = mongo[settings.database_name]
    await ensure_indexes(db, MongoSlaStore.indexes())
    try:
        yield MongoSlaStore(db)
    finally:
        await mongo.close()


async def _armed(store: SlaStore, *partitions: int) -> dict[str, Any]:
    return {a.ticket_id: a.next_at async for a in store.armed_in(partitions)}


async def test_new_tickets_are_saved_once_and_a_second_insert_is_lost(store: SlaStore) -> None:
    first = await store.save_all([Save(_routed("t-1"), None), Save(_routed("t-2"), None)])
    assert sorted(first.saved) == ["t-1", "t-2"] and not first.lost
    again = await store.save_all([Save(_routed("t-1"), None)])
    assert list(again.lost) == ["t-1"] and not again.saved
    loaded = await store.load(["t-1", "t-2", "t-unknown"])
    assert sorted(loaded) == ["t-1", "t-2"]
    assert loaded["t-1"] == first.saved["t-1"] and loaded["t-1"].revision == 1


async def test_a_save_over_a_stale_revision_is_lost_and_the_others_are_saved(
    store: SlaStore,
) -> None:
    await store.save_all([Save(_routed("t-1"), None), Save(_routed("t-2"), None)])
    read = await store.load(["t-1", "t-2"])
    await store.save_all([_replied(read["t-1"])])  # another writer moves t-1 first
    outcome = await store.save_all([_resolved(read["t-1"]), _replied(read["t-2"])])
    assert list(outcome.lost) == ["t-1"] and list(outcome.saved) == ["t-2"]
    now = await store.load(["t-1", "t-2"])
    assert (now["t-1"].revision, now["t-2"].revision) == (2, 2)
    assert now["t-1"].ticket.state == "open"  # the reply's, not the lost resolution


async def test_armed_tickets_are_listed_per_partition_once_at_their_latest_moment(
    store: SlaStore,
) -> None:
    saved = await store.save_all([Save(_routed(f"t-{n}", n % 3), None) for n in range(9)])
    assert await _armed(store, 0) == {t: _routed(t).next_at for t in ("t-0", "t-3", "t-6")}
    replied = await store.save_all([_replied(saved.saved["t-0"])])
    resolved = await store.save_all([_resolved(saved.saved["t-3"])])
    armed = await _armed(store, 0, 1)
    assert armed["t-0"] == replied.saved["t-0"].ticket.next_at != _routed("t-0").next_at
    assert "t-3" not in armed and resolved.saved["t-3"].ticket.next_at is None
    assert len(armed) == 5


async def test_finished_targets_are_kept_once_each_and_read_by_window_and_team(
    store: SlaStore,
) -> None:
    saved = await store.save_all([Save(_routed("t-1"), None)])
    replied = await store.save_all([_replied(saved.saved["t-1"])])
    await store.save_all([_resolved(replied.saved["t-1"])])
    window = (NOW - timedelta(days=1), NOW + timedelta(days=1))
    results = await store.results(*window)
    assert sorted((r["metric"], r["outcome"]) for r in results) == [
        ("first_response", "met"),
        ("resolution", "met"),
    ]
    assert await store.results(*window, team="technical", metric="resolution") != []
    assert await store.results(*window, team="billing") == []


# --- MongoDB's layout -----------------------------------------------------------------------


def commands() -> float:
    samples = next(iter(DB_COMMANDS.collect())).samples
    return sum(sample.value for sample in samples if sample.name.endswith("_total"))


async def test_a_batch_of_tickets_is_armed_in_a_few_small_buckets_with_three_commands(
    mongo_store: tuple[MongoSlaStore, Any],
) -> None:
    store, db = mongo_store
    before = commands()
    saved = await store.save_all([Save(_routed(f"t-{n}"), None) for n in range(100)])
    assert commands() - before == 2  # the timer index, the tickets (nothing finished yet)
    buckets = await db["timers"].find({}).to_list()
    assert len(buckets) == math.ceil(100 / CAPACITY)
    assert max(len(b["entries"]) for b in buckets) == CAPACITY
    assert {s.home for s in saved.saved.values()} == {b["_id"] for b in buckets}

    before = commands()
    await store.save_all([_replied(s) for s in saved.saved.values()])
    # Results, timer index, tickets: three commands for a hundred replies.
    assert commands() - before == 3
    assert len(await db["timers"].find({}).to_list()) == math.ceil(100 / CAPACITY)


async def test_a_ticket_stored_by_an_earlier_version_moves_to_a_home_and_its_old_bucket_goes(
    mongo_store: tuple[MongoSlaStore, Any],
) -> None:
    store, db = mongo_store
    ticket = _routed("t-old", 1)
    old = timer_bucket(1, "t-old")
    await db["tickets"].insert_one(_document(ticket, 1))
    assert ticket.next_at is not None
    entry = [round(ticket.next_at.timestamp() * 1000), ticket.version]
    await db["timers"].insert_one(
        {"_id": old, "partition": 1, "entries": {timer_field("t-old"): entry}}
    )
    read = (await store.load(["t-old"]))["t-old"]
    assert read.home is None and await _armed(store, 1) == {"t-old": ticket.next_at}

    moved = (await store.save_all([_replied(read)])).saved["t-old"]
    assert moved.home is not None and moved.home != old
    assert await db["timers"].find_one({"_id": old}) is None  # emptied, so deleted
    assert await _armed(store, 1) == {"t-old": moved.ticket.next_at}
    assert (await store.load(["t-old"]))["t-old"].home == moved.home


async def test_a_redo_after_a_lost_race_writes_the_entry_again_and_clears_the_stray(
    mongo_store: tuple[MongoSlaStore, Any],
) -> None:
    store, db = mongo_store
    # Another replica (its own homes) created the ticket first; this one's insert loses.
    other = MongoSlaStore(db)
    await other.save_all([Save(_routed("t-1"), None)])
    lost = await store.save_all([Save(_routed("t-1"), None)])
    stray = lost.lost["t-1"]
    assert stray is not None
    read = (await store.load(["t-1"]))["t-1"]
    assert read.home != stray
    redone = await store.save_all([Save(read.ticket, read, redo=True, stray=stray)])
    assert redone.saved["t-1"].home == read.home
    entries = {b["_id"]: b.get("entries", {}) async for b in db["timers"].find({})}
    assert stray not in entries or entries[stray] == {}
    assert await _armed(store, 0) == {"t-1": read.ticket.next_at}
