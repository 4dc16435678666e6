"""The insights store's contract, run against MongoDB and the in-memory store alike: facts saved
under a version guard, the report window's read, timers armed and fired by key, surveys
answered once per version, monthly reports recorded once, erasure."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.insights.domain.drill import Drill
from services.insights.domain.facts import StatusChange, TicketFact
from services.insights.domain.surveys import Survey
from services.insights.domain.timers import Timer
from services.insights.settings import InsightsSettings
from services.insights.store import InsightsStore, LostRace, MongoInsightsStore
from services.insights.store_agents import Move
from services.insights.store_memory import MemoryInsightsStore
from shared.mongo import ensure_indexes, make_mongo_client

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "mongo"])
async def store(request: pytest.FixtureRequest, make_settings: Any) -> AsyncIterator[InsightsStore]:
    if request.param == "memory":
        yield MemoryInsightsStore()
        return
    settings: InsightsSettings = make_settings(InsightsSettings)
    mongo = make_mongo_client(settings.mongo)
    db = mongo[settings.database_name]
    await ensure_indexes(db, MongoInsightsStore.indexes())
    try:
        yield MongoInsightsStore(db)
    finally:
        await mongo.close()


def fact(ticket_id: str, opened_days_ago: int, resolved_days_ago: int | None = None,
         team: str = "technical", **kw: Any) -> TicketFact:  # fmt: skip
    statuses = (
        [StatusChange(at=NOW - timedelta(days=resolved_days_ago), status="resolved")]
        if resolved_days_ago is not None
        else []
    )
    return TicketFact(ticket_id=ticket_id, opened_at=NOW - timedelta(days=opened_days_ago),
                      statuses=statuses, team=team, **kw)  # fmt: skip


async def test_facts_are_saved_under_their_version_and_a_stale_save_loses(
    store: InsightsStore,
) -> None:
    await store.save([fact("t1", 3)])
    [saved] = (await store.facts(["t1", "nope"])).values()
    assert saved.version == 1 and saved.opened_at == NOW - timedelta(days=3)
    await store.save([saved.model_copy(update={"agent_replies": 2})])
    with pytest.raises(LostRace):
        await store.save([saved.model_copy(update={"agent_replies": 9})])  # read before
    with pytest.raises(LostRace):
        await store.save([fact("t1", 3)])  # a new fact where one exists
    assert (await store.facts(["t1"]))["t1"].agent_replies == 2


async def test_the_window_reads_tickets_open_at_some_point_of_it(store: InsightsStore) -> None:
    await store.save([
        fact("old-closed", 40, resolved_days_ago=35),  # resolved before the window
        fact("old-open", 40),  # still open: in every window since
        fact("closed-in", 20, resolved_days_ago=5),
        fact("recent", 2, team="accounts"),
        fact("future", -1),  # opened after the window's end
        TicketFact(ticket_id="never-opened", team="technical"),
    ])  # fmt: skip
    since, until = NOW - timedelta(days=10), NOW
    found = {f.ticket_id async for f in store.open_during(since, until, None)}
    assert found == {"old-open", "closed-in", "recent"}
    mine = {f.ticket_id async for f in store.open_during(since, until, frozenset({"technical"}))}
    assert mine == {"old-open", "closed-in"}
    opened = {f.ticket_id async for f in store.opened_between(since, until, None)}
    assert opened == {"recent"}


async def test_a_drill_down_and_the_category_counts_are_narrowed_where_the_facts_are(
    store: InsightsStore,
) -> None:
    await store.save([
        fact("low", 2, csat_score=1, transfers=3, category="network", subcategory="wifi"),
        fact("high", 2, resolved_days_ago=1, csat_score=5, category="network"),
        fact("none", 2, reopened=1, category="billing", team="accounts"),
        fact("earlier", 30, category="network"),
    ])  # fmt: skip
    since, until = NOW - timedelta(days=10), NOW

    narrows = isinstance(store, MongoInsightsStore)

    async def check(expected: set[str], **conditions: Any) -> None:
        drill = Drill(**conditions)
        found = {f.ticket_id async for f in store.opened_between(since, until, None, drill)}
        # A store may narrow (MongoDB does, on these conditions); it never drops one selected.
        assert found == expected if narrows else expected <= found, (conditions, found)

    await check({"low"}, csat_at_most=2)
    await check({"low"}, transfers_at_least=3)
    await check({"none"}, reopened=True)
    await check({"low", "high"}, reopened=False)
    await check({"high"}, resolved=True)
    await check({"none"}, dimension="team", group="accounts")
    await check({"low"}, dimension="team", group="technical", csat_at_most=3)
    assert await store.category_counts(since, until, None) == {
        ("network", "wifi", None): 1, ("network", None, None): 1, ("billing", None, None): 1,
    }  # fmt: skip
    assert await store.category_counts(since, until, frozenset({"accounts"})) == {
        ("billing", None, None): 1
    }


async def test_timers_fire_once_per_key_and_rearming_keeps_what_fired(store: InsightsStore) -> None:
    survey = Timer(ticket_id="t1", kind="survey", due_at=NOW, key="survey")
    wait = Timer(ticket_id="t1", kind="reply_wait", due_at=NOW + timedelta(hours=1), key="r:1")
    later = Timer(ticket_id="t2", kind="queue_wait", due_at=NOW + timedelta(days=1), key="q:1")
    await store.set_timers([survey, wait, later])
    assert await store.next_due() == NOW
    assert [t.timer_id for t in await store.due_timers(NOW + timedelta(hours=1), 10)] == [
        "survey:t1", "reply_wait:t1",
    ]  # fmt: skip
    await store.fired([survey])
    await store.set_timers([wait.model_copy(update={"due_at": NOW + timedelta(hours=2)})])
    timers = await store.timers(["t1"])
    assert timers["survey:t1"].due_at is None and timers["survey:t1"].fired == ["survey"]
    assert timers["reply_wait:t1"].due_at == NOW + timedelta(hours=2)
    assert await store.next_due() == NOW + timedelta(hours=2)
    assert await store.due_timers(NOW + timedelta(minutes=1), 10) == []


async def test_a_survey_is_offered_once_and_answered_once_per_version(store: InsightsStore) -> None:
    offered = Survey(ticket_id="t1", offered_at=NOW, expires_at=NOW + timedelta(days=14))
    await store.offer_surveys([offered])
    await store.offer_surveys([offered.model_copy(update={"language": "fa"})])  # again: kept
    current = await store.survey("t1")
    assert current is not None and current.language == "en"
    first = current.model_copy(update={"score": 4, "answers": 1, "answered_at": NOW})
    assert await store.answer_survey(first, 0)
    assert not await store.answer_survey(first.model_copy(update={"score": 1}), 0)
    saved = await store.survey("t1")
    assert saved is not None and (saved.score, saved.answers) == (4, 1)
    assert await store.survey("nope") is None


async def test_monthly_reports_are_recorded_once_and_erasure_blanks_the_customer(
    store: InsightsStore,
) -> None:
    await store.report_sent(["mgr:2026-11"])
    await store.report_sent(["mgr:2026-11", "other:2026-11"])
    assert await store.reports_sent(["mgr:2026-11", "x:2026-11", "other:2026-11"]) == {
        "mgr:2026-11", "other:2026-11",
    }  # fmt: skip
    await store.save([fact("t1", 3, customer_id="c-1"), fact("t2", 3, customer_id="c-2")])
    assert await store.forget_customer(["t1"], ["c-1"]) == 1
    facts = await store.facts(["t1", "t2"])
    assert (facts["t1"].customer_id, facts["t2"].customer_id) == (None, "c-2")
    with pytest.raises(LostRace):  # a fold that read before the erasure loses its race
        await store.save([fact("t1", 3, customer_id="c-1").model_copy(update={"version": 1})])


async def test_agents_counts_follow_each_move_and_a_repeated_batch_counts_nothing_twice(
    store: InsightsStore,
) -> None:
    first = [Move("t1", None, "ag-leon|email"), Move("t2", None, "ag-leon|email"),
             Move("t3", None, "ag-nika|chat")]  # fmt: skip
    await store.hold(first)
    assert await store.holdings(["ag-leon", "ag-nika", "ag-none"]) == {
        "ag-leon": {"email": 2},
        "ag-nika": {"chat": 1},
    }
    # The same batch again (a crash before its facts were saved): nothing moves twice.
    await store.hold(first)
    assert await store.holdings(["ag-leon", "ag-nika"]) == {
        "ag-leon": {"email": 2},
        "ag-nika": {"chat": 1},
    }
    moves = [Move("t1", "ag-leon|email", "ag-nika|chat"), Move("t2", "ag-leon|email", None)]
    await store.hold(moves)
    assert await store.holdings(["ag-leon", "ag-nika"]) == {"ag-nika": {"chat": 2}}
    await store.hold(moves)  # again, half of it already done
    assert await store.holdings(["ag-leon", "ag-nika"]) == {"ag-nika": {"chat": 2}}
    assert await store.recount(["ag-leon", "ag-nika"]) == {"ag-nika": {"chat": 2}}
