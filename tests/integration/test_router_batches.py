"""The router's batch of new tickets on the real database: the MongoDB commands it sends stay the
same whatever the batch's size, and a batch redelivered after a crash between claim and save
opens each ticket once with the same decisions and counts each slot once."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from services.router.settings import RouterSettings
from services.router.store import MongoRoutingStore
from shared.events import TicketAssigned, TicketRouted
from shared.idempotency import ProcessedEvents
from shared.mongo import DB_COMMANDS, ensure_indexes, make_mongo_client
from tests.unit.test_router_service import ROOMY, Crash, Replica, opened

pytestmark = pytest.mark.integration


def commands() -> Counter[str]:
    counts: Counter[str] = Counter()
    for metric in DB_COMMANDS.collect():
        for s in metric.samples:
            if s.name.endswith("_total"):
                counts[s.labels["command"]] += int(s.value)
    return counts


class CrashingStore(MongoRoutingStore):
    crash_at: str | None = None

    async def insert_tickets(self, tickets: Any) -> set[str]:
        if self.crash_at == "insert_tickets":
            self.crash_at = None
            raise Crash("insert_tickets")
        return await super().insert_tickets(tickets)


async def test_a_batch_costs_the_same_commands_whatever_its_size(make_settings: Any) -> None:
    settings = make_settings(RouterSettings)
    mongo = make_mongo_client(settings.mongo)
    db = mongo[settings.database_name]
    await ensure_indexes(db, MongoRoutingStore.indexes())
    try:
        spent = []
        for size, first in ((5, 0), (50, 100)):
            replica = Replica(MongoRoutingStore(db), ROOMY)
            replica.kit.guard = ProcessedEvents(db)
            batch = [
                opened(f"t-{n}", "email", customer_id=f"cu-{n % 7}")
                for n in range(first, first + size)
            ]
            await replica.service.prepare()
            before = commands()
            await replica.feed(*batch)
            spent.append(commands() - before)
            assert len(replica.of(TicketAssigned)) == size
        # prepare_agents in feed() reads the agents once more: the same for both sizes.
        assert spent[0] == spent[1], spent
        assert sum(spent[1].values()) <= 14, spent[1]
    finally:
        await mongo.close()


async def test_a_batch_redelivered_after_a_crash_opens_each_ticket_once(make_settings: Any) -> None:
    settings = make_settings(RouterSettings)
    mongo = make_mongo_client(settings.mongo)
    db = mongo[settings.database_name]
    await ensure_indexes(db, MongoRoutingStore.indexes())
    try:
        store = CrashingStore(db)
        store.crash_at = "insert_tickets"
        crashed = Replica(store)
        batch = [opened("t-1"), opened("t-2")]
        with pytest.raises(Crash):
            await crashed.feed(*batch)
        again = Replica(store)
        await again.feed(*batch)
        for kind in (TicketRouted, TicketAssigned):
            ids = [(e.event_id, getattr(e, "agent_id", None)) for e in crashed.of(kind)]
            assert ids == [(e.event_id, getattr(e, "agent_id", None)) for e in again.of(kind)]
        assert await db["routed_tickets"].count_documents({}) == 2
        maria = await db["agents"].find_one({"_id": "ag-maria"})
        assert maria is not None
        assert maria["load"] == {"chat": 2} and maria["slots"] == []
    finally:
        await mongo.close()
