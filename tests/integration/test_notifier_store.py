"""The notifier store's contract, run against MongoDB and the in-memory store alike: the board's
batched, version-guarded writes; the outbox's leases and digests; ladders; webhooks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from services.notifier.domain.board import Change, change_of
from services.notifier.domain.chat import WebhookTarget
from services.notifier.domain.deliveries import (
    Attempt,
    Job,
    JobStatus,
    OutboxChannel,
    Settlement,
)
from services.notifier.domain.erasure import Erasure
from services.notifier.domain.escalations import Escalation
from services.notifier.domain.notices import Notice
from services.notifier.domain.views import Viewer
from services.notifier.settings import NotifierSettings
from services.notifier.store import MongoNotifierStore, NotifierStore
from services.notifier.store_memory import MemoryNotifierStore
from shared.events import Event, TicketQueued, TicketStatusChanged, TicketTransferred
from shared.mongo import ensure_indexes, make_mongo_client
from tests.unit.test_notifier_service import assigned, opened, routed

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


@pytest.fixture(params=["memory", "mongo"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[NotifierStore]:
    if request.param == "memory":
        yield MemoryNotifierStore()
        return
    settings = request.getfixturevalue("make_settings")(NotifierSettings)
    mongo = make_mongo_client(settings.mongo)
    db = mongo[settings.database_name]
    await ensure_indexes(db, MongoNotifierStore.indexes())
    try:
        yield MongoNotifierStore(db)
    finally:
        await mongo.close()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def changes(*events: Event) -> list[Change]:
    found = [change_of(e) for e in events]
    return [c for c in found if c is not None]


def queued(ticket_id: str, when: datetime) -> TicketQueued:
    return TicketQueued(
        ticket_id=ticket_id,
        team="technical",
        tier="L1",
        priority="P3",
        order="fifo",
        reason="busy",
        occurred_at=when,
    )


def transferred(ticket_id: str, when: datetime) -> TicketTransferred:
    return TicketTransferred(
        ticket_id=ticket_id,
        from_agent_id="ag-nika",
        to_agent_id="ag-sergei",
        from_team="technical",
        to_team="technical",
        transfer_count=1,
        reason="software",
        occurred_at=when,
    )


def fields(row: dict[str, Any], *names: str) -> tuple[Any, ...]:
    return tuple(row.get(name) for name in names)


# -- the board ----------------------------------------------------------------------------------


async def test_a_batch_of_changes_to_several_groups_of_a_row_is_applied_in_order(
    store: NotifierStore,
) -> None:
    await store.apply_board(
        changes(opened("t-1", at(0)), routed("t-1", at(1)), assigned("t-1", at(2)))
    )
    rows = await store.board_rows(["t-1", "t-unknown"])
    assert list(rows) == ["t-1"]
    row = rows["t-1"]
    assert fields(row, "subject", "category", "team", "assignee_id", "queued", "open") == (
        "VPN down (t-1)",
        "network",
        "technical",
        "ag-nika",
        False,
        True,
    )
    assert row["updated_at"] == at(2)
    assert row["versions"] == {"opened": at(0), "routing": at(2)}


async def test_a_redelivered_batch_leaves_the_rows_as_they_are(store: NotifierStore) -> None:
    batch = changes(routed("t-1", at(1)), assigned("t-1", at(2)), queued("t-2", at(1)))
    await store.apply_board(batch)
    before = await store.board_rows(["t-1", "t-2"])
    await store.apply_board(batch)
    assert await store.board_rows(["t-1", "t-2"]) == before


async def test_changes_older_than_the_rows_are_left_out_group_by_group(
    store: NotifierStore,
) -> None:
    await store.apply_board(changes(opened("t-1", at(5)), assigned("t-1", at(3))))
    # Written meanwhile by another consumer: this batch's routing starts before it.
    late = [
        *changes(opened("t-1", at(1))),  # older than the row's: left out
        *changes(queued("t-1", at(2))),  # older than the assignment: left out
        *changes(transferred("t-1", at(4))),  # newer: applied
        *changes(TicketStatusChanged(ticket_id="t-1", status="resolved", occurred_at=at(6))),
    ]
    await store.apply_board(late)
    row = (await store.board_rows(["t-1"]))["t-1"]
    assert fields(row, "subject", "assignee_id", "queued", "status", "open") == (
        "VPN down (t-1)",
        "ag-sergei",
        False,
        "resolved",
        False,
    )
    assert row["versions"] == {"opened": at(5), "routing": at(4), "status": at(6)}


async def test_a_console_reads_its_open_rows_newest_first(store: NotifierStore) -> None:
    await store.apply_board(
        changes(
            assigned("t-1", at(1)),
            queued("t-2", at(2)),
            assigned("t-3", at(3), agent="ag-sergei"),
            assigned("t-4", at(4), agent="ag-john", team="accounts"),
            assigned("t-5", at(5)),
            TicketStatusChanged(ticket_id="t-5", status="closed", occurred_at=at(6)),
        )
    )
    nika = Viewer("ag-nika", "Nika", "agent", ("technical",))
    manager = Viewer("mgr-technical", "Eleni", "manager", ("technical",))
    assert [r["_id"] for r in await store.board_for(nika)] == ["t-2", "t-1"]
    assert [r["_id"] for r in await store.board_for(manager)] == ["t-3", "t-2", "t-1"]


# -- the outbox ---------------------------------------------------------------------------------


def notice(ticket_id: str = "t-1") -> Notice:
    return Notice(
        kind="sla_warning",
        event_id=f"e-{ticket_id}",
        event_type="sla.warning",
        occurred_at=T0,
        ticket_id=ticket_id,
        reference="HD-AAAAAA",
    )


def job(key: str, send_at: datetime, **fields: Any) -> Job:
    values: dict[str, Any] = {
        "key": key,
        "channel": "webhook",
        "recipient": "room",
        "address": "webhook:room",
        "notice": notice(),
        "ticket_id": "t-1",
        "cause_event_id": "e-t-1",
        "send_at": send_at,
        "created_at": send_at,
    }
    return Job(**{**values, **fields})


async def settle(
    store: NotifierStore,
    job: Job,
    attempt: Attempt,
    *,
    status: JobStatus,
    send_at: datetime | None = None,
    folded_into: str | None = None,
) -> None:
    """One try's outcome, as the delivery loop writes it (among others, in one write)."""
    settlement = Settlement(
        key=job.key, attempt=attempt, status=status, send_at=send_at, folded_into=folded_into
    )
    await store.settle_many([settlement])


async def take(
    store: NotifierStore,
    channel: OutboxChannel,
    *,
    now: datetime,
    owner: str,
    lease: timedelta,
    limit: int = 1,
) -> list[Job]:
    """What a delivery loop does with no candidates of its own: read the due keys, claim them."""
    keys = await store.due_keys(channel, now=now, limit=limit)
    return await store.claim(keys, now=now, owner=owner, lease=lease)


async def test_jobs_are_enqueued_once_by_key(store: NotifierStore) -> None:
    assert await store.enqueue([job("a", at(1)), job("b", at(2))]) == set()
    assert await store.enqueue([job("b", at(9)), job("c", at(3))]) == {"b"}
    logged = await store.jobs(limit=10)
    assert [(j.key, j.send_at) for j in logged] == [("c", at(3)), ("b", at(2)), ("a", at(1))]
    assert [j.key for j in await store.jobs(ticket_id="t-1", limit=2)] == ["c", "b"]
    assert await store.jobs(ticket_id="t-other") == []


async def test_a_due_job_is_leased_once_and_taken_again_when_its_lease_runs_out(
    store: NotifierStore,
) -> None:
    await store.enqueue([job("late", at(5)), job("soon", at(1)), job("later", at(60))])
    assert await store.next_send_at("webhook", at(60)) == at(1)
    assert await store.next_send_at("webhook", at(0)) is None  # nothing due that soon
    [first] = await take(store, "webhook", now=at(10), owner="r1", lease=LEASE)
    [second] = await take(store, "webhook", now=at(10), owner="r2", lease=LEASE)
    assert (first.key, second.key) == ("soon", "late")
    assert await take(store, "webhook", now=at(10), owner="r3", lease=LEASE) == []
    assert await take(store, "email", now=at(100), owner="r3", lease=LEASE, limit=5) == []
    # r1 died: its lease runs out and another replica takes the job again.
    [again] = await take(store, "webhook", now=at(41), owner="r3", lease=LEASE)
    assert (again.key, again.lease_owner) == ("soon", "r3")
    assert again.status == "leased"
    await settle(
        store,
        again,
        Attempt(at=at(42), outcome="retry", error="500"),
        status="pending",
        send_at=at(50),
    )
    assert await store.next_send_at("webhook", at(100)) == at(50)
    [retried] = [j for j in await store.jobs() if j.key == "soon"]
    assert (retried.status, retried.attempts, retried.lease_owner) == ("pending", 1, None)
    assert [(a.outcome, a.error) for a in retried.log] == [("retry", "500")]


async def test_a_batch_is_leased_soonest_first_and_each_job_goes_to_one_replica(
    store: NotifierStore,
) -> None:
    await store.enqueue([job(f"j{i}", at(i)) for i in range(1, 8)] + [job("future", at(99))])
    first = await take(store, "webhook", now=at(10), owner="r1", lease=LEASE, limit=3)
    second = await take(store, "webhook", now=at(10), owner="r2", lease=LEASE, limit=10)
    assert [j.key for j in first] == ["j1", "j2", "j3"]
    assert [j.key for j in second] == ["j4", "j5", "j6", "j7"]
    assert {j.lease_owner for j in first} == {"r1"} and {j.lease_owner for j in second} == {"r2"}
    assert await take(store, "webhook", now=at(10), owner="r3", lease=LEASE, limit=10) == []
    for taken in first:
        await settle(store, taken, Attempt(at=at(11), outcome="sent"), status="sent")
    # r2 died: its jobs, and only they, are due again once its lease runs out.
    again = await take(store, "webhook", now=at(41), owner="r3", lease=LEASE, limit=10)
    assert [j.key for j in again] == ["j4", "j5", "j6", "j7"]
    assert {j.lease_owner for j in again} == {"r3"}


async def test_claiming_by_key_leases_only_what_is_still_due(store: NotifierStore) -> None:
    await store.enqueue([job("a", at(1)), job("b", at(2)), job("later", at(99)), job("c", at(3))])
    [b] = await store.claim(["b"], now=at(10), owner="r1", lease=LEASE)
    assert (b.key, b.lease_owner, b.status) == ("b", "r1", "leased")
    claimed = await store.claim(
        ["c", "b", "later", "gone", "a", "c"], now=at(10), owner="r2", lease=LEASE
    )
    # b is r1's, `later` is not due, `gone` was never enqueued; c was named twice.
    assert [(j.key, j.lease_owner) for j in claimed] == [("a", "r2"), ("c", "r2")]
    await settle(store, claimed[0], Attempt(at=at(11), outcome="sent"), status="sent")
    assert await store.claim(["a"], now=at(500), owner="r3", lease=LEASE) == []
    # The leases ran out: due_keys names both, oldest first, and b is claimed by key again.
    assert await store.due_keys("webhook", now=at(41), limit=10) == ["b", "c"]
    [again] = await store.claim(["b"], now=at(41), owner="r3", lease=LEASE)
    assert again.lease_owner == "r3"


async def test_digest_slots_and_folding_go_by_fold_key(store: NotifierStore) -> None:
    folded = {"fold_key": "room:webhook"}
    await store.enqueue(
        [
            job("w1", at(1), **folded),
            job("w2", at(300), **folded),
            job("w3", at(2), **folded),
            job("other", at(1), fold_key="ag-nika:email", channel="email"),
        ]
    )
    slots = await store.last_slots(["room:webhook", "ag-nika:email", "nobody:email"])
    assert slots == {"room:webhook": at(300), "ag-nika:email": at(1), "nobody:email": None}
    [head] = await take(store, "webhook", now=at(10), owner="r1", lease=LEASE)
    assert head.key == "w1"
    carried = await store.take_folding(head, now=at(10), owner="r1", lease=LEASE)
    assert [j.key for j in carried] == ["w3"]
    await settle(store, head, Attempt(at=at(11), outcome="sent"), status="sent")
    await settle(
        store, carried[0], Attempt(at=at(11), outcome="sent"), status="sent", folded_into="w1"
    )
    states = {j.key: (j.status, j.folded_into) for j in await store.jobs()}
    assert states["w1"] == ("sent", None) and states["w3"] == ("sent", "w1")
    assert states["w2"] == ("pending", None)


# -- ladders and webhooks -------------------------------------------------------------------------


def ladder(escalation_id: str, ticket_id: str, **fields: Any) -> Escalation:
    values: dict[str, Any] = {
        "escalation_id": escalation_id,
        "ticket_id": ticket_id,
        "metric": "first_response",
        "level": "breach",
        "team": "technical",
        "notice": notice(ticket_id),
        "rung": 0,
        "rungs": 4,
        "raised_at": at(0),
        "next_at": at(600),
        "told": ["ag-nika"],
    }
    return Escalation(**{**values, **fields})


async def test_ladders_open_once_climb_once_and_finish_once(store: NotifierStore) -> None:
    one, two = ladder("e-1", "t-1"), ladder("e-2", "t-2", metric="resolution", next_at=at(60))
    # At its last rung, waiting for an acknowledgement with no deadline: never due.
    top = ladder("e-top", "t-3", rung=3, next_at=None)
    assert await store.open_escalations([one, two, top]) == set()
    assert await store.open_escalations([one]) == {"e-1"}
    assert [e.escalation_id for e in await store.due_escalations(at(100))] == ["e-2"]
    assert await store.next_escalation_due(at(100)) == at(60)
    assert await store.next_escalation_due(at(59)) is None
    assert await store.climb(one, next_at=at(1200), told=["lead-technical", "ag-nika"])
    assert not await store.climb(one, next_at=at(1800), told=["mgr-technical"])
    climbed = await store.escalation("e-1")
    assert climbed is not None and (climbed.rung, climbed.next_at) == (1, at(1200))
    assert climbed.told == ["ag-nika", "lead-technical"]
    done = await store.finish("e-1", "acknowledged", at=at(700), by="ag-nika", reason="on it")
    assert done is not None
    assert (done.status, done.acknowledged_by, done.acknowledged_at, done.next_at) == (
        "acknowledged",
        "ag-nika",
        at(700),
        None,
    )
    assert await store.finish("e-1", "stopped", at=at(800), reason="met") is None
    assert [e.escalation_id for e in await store.open_escalations_of(["t-1", "t-2"])] == ["e-2"]
    assert set(await store.escalations(["e-1", "e-2", "e-3"])) == {"e-1", "e-2"}


async def test_a_person_sees_the_ladders_they_were_told_of_or_head(store: NotifierStore) -> None:
    await store.open_escalations(
        [
            ladder("e-1", "t-1", raised_at=at(2)),
            ladder("e-2", "t-2", team="accounts", told=["ag-john"], raised_at=at(1)),
            ladder("e-3", "t-3", team="accounts", told=["ag-nika"], raised_at=at(0)),
        ]
    )
    nika = [e.escalation_id for e in await store.open_escalations_for("ag-nika", [])]
    assert nika == ["e-3", "e-1"]
    sara = await store.open_escalations_for("mgr-accounts", ["accounts"])
    assert [e.escalation_id for e in sara] == ["e-3", "e-2"]


async def test_webhooks_are_put_listed_and_removed(store: NotifierStore) -> None:
    def target(name: str) -> WebhookTarget:
        return WebhookTarget.model_validate(
            {
                "name": name,
                "url": "https://hooks.example/T1",
                "secret": SecretStr("a-secret-of-sixteen"),
                "teams": ["technical"],
            }
        )

    await store.put_webhook(target("b-room"))
    await store.put_webhook(target("a-room"))
    assert [t.name for t in await store.webhooks()] == ["a-room", "b-room"]
    found = await store.webhook("a-room")
    assert found is not None and found.secret.get_secret_value() == "a-secret-of-sixteen"
    assert await store.delete_webhook("a-room") and not await store.delete_webhook("a-room")
    assert await store.webhook("a-room") is None


# -- erasure ---------------------------------------------------------------------------------


async def test_an_erasure_blanks_the_persons_text_and_leaves_the_rest(
    store: NotifierStore,
) -> None:
    await store.apply_board(
        changes(
            opened("t-1", at(0)),
            assigned("t-1", at(1)),
            opened("t-2", at(0)),
            opened("t-3", at(0)),
        )
    )
    # A subject of another customer's ticket that quotes the person's address.
    await store.apply_board(
        [Change("t-3", "opened", at(0), {"subject": "fwd from eleni@customer.example"})]
    )

    def told(ticket_id: str, **fields: Any) -> Notice:
        return notice(ticket_id).model_copy(
            update={"subject": f"VPN down ({ticket_id})", "customer": "Acme Shipping"} | fields
        )

    await store.enqueue(
        [
            job("j-1", at(1), ticket_id="t-1", notice=told("t-1")),
            job("j-2", at(1), ticket_id="t-2", notice=told("t-2")),
            job("j-3", at(1), ticket_id="t-2", notice=told("t-2", reason="Eleni K. asked")),
        ]
    )
    await settle(
        store,
        (await store.jobs(ticket_id="t-1"))[0],
        Attempt(at=at(2), outcome="sent"),
        status="sent",
    )
    await store.open_escalations(
        [ladder("e-1", "t-1", notice=told("t-1")), ladder("e-2", "t-2", notice=told("t-2"))]
    )
    erasure = Erasure(
        ticket_ids=("t-1",),
        customer_ids=("cu-1",),
        texts=("eleni@customer.example", "Eleni K."),
    )

    for _ in range(2):  # twice changes nothing
        await store.erase(erasure)
        rows = await store.board_rows(["t-1", "t-2", "t-3"])
        assert fields(rows["t-1"], "subject", "customer", "assignee_id") == (
            None,
            None,
            "ag-nika",
        )
        assert fields(rows["t-2"], "subject", "customer") == ("VPN down (t-2)", "Acme Shipping")
        assert fields(rows["t-3"], "subject", "customer") == (None, "Acme Shipping")
        jobs = {j.key: j for j in await store.jobs(limit=10)}
        assert (jobs["j-1"].notice.subject, jobs["j-1"].notice.customer) == (None, None)
        assert jobs["j-1"].status == "sent"
        assert jobs["j-2"].notice == told("t-2")
        assert jobs["j-3"].notice == told("t-2", reason=None)
        ladders = await store.escalations(["e-1", "e-2"])
        assert (ladders["e-1"].notice.subject, ladders["e-1"].notice.customer) == (None, None)
        assert ladders["e-2"].notice == told("t-2")
    # The ticket's opening delivered again writes nothing back.
    await store.apply_board(changes(opened("t-1", at(0))))
    assert (await store.board_rows(["t-1"]))["t-1"]["subject"] is None
