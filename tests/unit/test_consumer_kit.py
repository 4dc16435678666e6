"""The consumer kit on batches fed straight to a subscription: parsing, the guard, isolation of a
bad record, splitting, retries while the database is away, and publishing together."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaBroker, TestKafkaBroker
from pymongo.errors import AutoReconnect

from shared.broker import PermanentError
from shared.consuming import Batch, ConsumerKit
from shared.events import TicketEvent, TicketNoteAdded
from shared.idempotency import MemoryGuard
from shared.settings import KafkaSettings, ServiceSettings

TOPIC = "helpdesk.tickets.v1"


def note(ticket: str, body: str = "hello") -> TicketNoteAdded:
    return TicketNoteAdded(ticket_id=ticket, agent_id="ag-nika", body=body)


def record(value: Any, offset: int, key: bytes | None = b"t") -> ConsumerRecord[bytes, bytes]:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return ConsumerRecord(TOPIC, 0, offset, 0, 0, key, raw, None, 1, len(raw), [])


def records(*values: Any) -> list[ConsumerRecord[bytes, bytes]]:
    return [record(v, i) for i, v in enumerate(values)]


class Desk:
    """A kit with one subscriber that notes what it saw and republishes each note."""

    def __init__(self, handler: Any = None, **kafka: Any) -> None:
        self.settings = ServiceSettings(
            service_name="kittest", kafka=KafkaSettings(max_attempts=3, **kafka)
        )
        self.broker = KafkaBroker()
        self.guard = MemoryGuard()
        self.kit = ConsumerKit(self.broker, self.settings, self.guard)
        self.out = self.kit.publisher("out", TicketNoteAdded, title="out")
        self.seen: list[list[str]] = []
        self.letters: list[dict[str, Any]] = []
        self.published: list[dict[str, Any]] = []
        self.kit.subscriber(
            TOPIC,
            name="kittest.on_ticket",
            events=TicketEvent,
            accepts=frozenset({"ticket.note_added"}),
            guard="note",
            description="test",
        )(handler or self.echo)

        @self.broker.subscriber(self.settings.topics.deadletter)
        async def letters(body: dict[str, Any]) -> None:
            self.letters.append(body)

        @self.broker.subscriber("out")
        async def out(body: dict[str, Any]) -> None:
            self.published.append(body)

    async def echo(self, batch: Batch[Any]) -> None:
        self.seen.append([d.event.body for d in batch])
        for delivery in batch:
            with batch.isolate(delivery):
                if delivery.event.body == "poison":
                    raise PermanentError("this note cannot be handled")
                batch.publish(self.out, delivery.event)

    async def feed(self, *values: Any) -> None:
        spec = self.kit.subscriptions["kittest.on_ticket"]
        async with TestKafkaBroker(self.broker):
            await self.kit.consume(spec, records(*values))


def dumped(event: TicketNoteAdded) -> dict[str, Any]:
    return event.model_dump(mode="json")


async def test_a_batch_is_handled_together_and_its_publishes_all_go_out() -> None:
    desk = Desk()
    notes = [note(f"t{i}", f"n{i}") for i in range(5)]
    await desk.feed(*map(dumped, notes))
    assert desk.seen == [["n0", "n1", "n2", "n3", "n4"]]
    assert [p["body"] for p in desk.published] == ["n0", "n1", "n2", "n3", "n4"]
    assert desk.letters == []


async def test_unparseable_records_are_dead_lettered_and_the_rest_is_handled() -> None:
    desk = Desk()
    await desk.feed(
        dumped(note("t1", "a")),
        b"{not json",
        {"event_type": "ticket.note_added", "ticket_id": "t2"},  # no agent, no body
        dumped(note("t3", "b")),
    )
    assert desk.seen == [["a", "b"]]
    assert len(desk.letters) == 2
    reasons = sorted(letter["reason"] for letter in desk.letters)
    assert reasons[0].startswith("JSONDecodeError")
    assert "invalid message" in reasons[1] and "body" in reasons[1]
    assert {letter["offset"] for letter in desk.letters} == {1, 2}
    assert all(letter["consumer_group"] == "helpdesk-kittest" for letter in desk.letters)


async def test_types_a_subscriber_does_not_act_on_are_skipped_without_a_dead_letter() -> None:
    desk = Desk()
    other = {"event_type": "ticket.something_new", "ticket_id": "t9"}
    await desk.feed(other, dumped(note("t1", "a")))
    assert desk.seen == [["a"]]
    assert desk.letters == []


async def test_a_record_that_fails_for_good_is_dead_lettered_alone() -> None:
    desk = Desk()
    await desk.feed(dumped(note("t1", "a")), dumped(note("t2", "poison")), dumped(note("t3", "b")))
    assert desk.seen == [["a", "poison", "b"]]  # handled once: nothing was redone
    assert [p["body"] for p in desk.published] == ["a", "b"]
    assert len(desk.letters) == 1
    assert desk.letters[0]["reason"] == "PermanentError: this note cannot be handled"


async def test_repeats_are_dropped_by_the_guard_and_within_the_batch() -> None:
    desk = Desk()
    first = note("t1", "a")
    await desk.feed(dumped(first), dumped(first))
    await desk.feed(dumped(first), dumped(note("t2", "b")))
    assert desk.seen == [["a"], ["b"]]
    assert [p["body"] for p in desk.published] == ["a", "b"]


async def test_an_error_outside_isolation_splits_the_batch_to_find_the_bad_record() -> None:
    handled: list[str] = []

    async def fragile(batch: Batch[Any]) -> None:
        bodies = [d.event.body for d in batch]
        if "poison" in bodies:
            raise ValueError("a bad note somewhere in the batch")
        handled.extend(bodies)

    desk = Desk(fragile)
    await desk.feed(dumped(note("t1", "a")), dumped(note("t2", "poison")), dumped(note("t3", "b")))
    assert handled == ["a", "b"]
    assert [letter["offset"] for letter in desk.letters] == [1]
    # The good records are marked processed, the bad one too: a redelivery redoes nothing.
    assert len(desk.guard.marked) == 3


async def test_a_database_out_of_reach_retries_the_batch_and_dead_letters_nothing() -> None:
    tries: list[int] = []

    async def flaky(batch: Batch[Any]) -> None:
        tries.append(len(batch))
        if len(tries) < 3:
            raise AutoReconnect("database restarting")

    desk = Desk(flaky, retry_backoff_max_ms=10)
    await desk.feed(dumped(note("t1")), dumped(note("t2")))
    assert tries == [2, 2, 2]
    assert desk.letters == []
    assert len(desk.guard.marked) == 2


async def test_a_database_that_stays_away_leaves_the_batch_to_be_redelivered() -> None:
    async def down(batch: Batch[Any]) -> None:
        raise AutoReconnect("database gone")

    desk = Desk(down, retry_backoff_max_ms=1)
    with pytest.raises(AutoReconnect):
        await desk.feed(dumped(note("t1")))
    assert desk.letters == []
    assert desk.guard.marked == set()


async def test_each_keeps_the_order_of_one_key_and_dead_letters_a_failing_record() -> None:
    order: list[str] = []

    async def per_record(batch: Batch[Any]) -> None:
        async def work(delivery: Any) -> None:
            if delivery.event.body == "poison":
                raise RuntimeError("always fails")
            order.append(delivery.event.body)

        await batch.each(work)

    desk = Desk(per_record)
    values = [dumped(note("t1", body)) for body in ("1", "2", "poison", "3")]
    spec = desk.kit.subscriptions["kittest.on_ticket"]
    async with TestKafkaBroker(desk.broker):
        await desk.kit.consume(spec, [record(v, i, key=b"same") for i, v in enumerate(values)])
    assert order == ["1", "2", "3"]
    assert len(desk.letters) == 1
    assert desk.letters[0]["attempts"] == 3


async def test_published_through_the_test_broker_one_record_is_a_batch_of_one() -> None:
    desk = Desk()
    async with TestKafkaBroker(desk.broker) as broker:
        await broker.publish(dumped(note(str(uuid.uuid4()), "via broker")), TOPIC)
    assert desk.seen == [["via broker"]]
    assert [p["body"] for p in desk.published] == ["via broker"]
