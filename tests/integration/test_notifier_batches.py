"""What a batch costs the database, counted on MongoDB with `helpdesk_db_commands`: the
commands of each subscriber's batch stay the same whether it carries ten tickets or forty
(the board's rows and the workspace's ticket views one bulk write each)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from services.notifier.settings import NotifierSettings
from services.notifier.store import MongoNotifierStore
from shared.mongo import DB_COMMANDS, ensure_indexes, make_mongo_client
from tests.unit.test_notifier_service import Desk, story

pytestmark = pytest.mark.integration


def commands() -> Counter[str]:
    counts: Counter[str] = Counter()
    for metric in DB_COMMANDS.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                counts[sample.labels["command"]] += int(sample.value)
    return counts


async def _costs(make_settings: Any, tickets: int) -> dict[str, Counter[str]]:
    """The commands of one batch per subscriber, for `tickets` new tickets' six events."""
    settings = make_settings(NotifierSettings)
    mongo = make_mongo_client(settings.mongo)
    await mongo.drop_database(settings.database_name)  # one database per test, two runs here
    db = mongo[settings.database_name]
    await ensure_indexes(db, MongoNotifierStore.indexes())
    desk = Desk(MongoNotifierStore(db), settings)
    costs: dict[str, Counter[str]] = {}
    try:
        batches = {
            topic: [e for n in range(tickets) for e in story(f"t-{n:03d}")[topic]]
            for topic in ("tickets", "routing", "sla")
        }
        for topic, events in batches.items():
            before = commands()
            await desk.feed(topic, *events)
            costs[topic] = commands() - before
        # Every replica's push consumer, on all of them at once: it holds none of the rows.
        before = commands()
        every = [e for events in batches.values() for e in events]
        await desk.feed("tickets", *every, subscriber="notifier.on_live_push")
        costs["push"] = commands() - before
        assert desk.letters == []
        assert await db["board"].count_documents({}) == tickets
        assert await db["ticket_views"].count_documents({}) == tickets
        assert await db["deliveries"].count_documents({}) == tickets
    finally:
        await mongo.close()
    return costs


async def test_a_batch_costs_the_same_commands_for_ten_tickets_as_for_forty(
    make_settings: Any,
) -> None:
    few = await _costs(make_settings, 10)
    many = await _costs(make_settings, 40)
    print(f"\ncommands per batch: { ({k: dict(v) for k, v in many.items()}) }")
    assert few == many
    # Each batch writes the board's rows and the ticket views, one bulk write each.
    assert many == {
        "tickets": Counter(update=2),  # the opening facts and messages
        "routing": Counter(find=1, update=2, insert=1),  # rows read, rows and views, emails
        "sla": Counter(update=2),  # three clocks per row and per view
        "push": Counter(find=1),  # the rows this replica does not hold yet
    }
