"""A batch of contacts decided together on the in-memory store: later contacts see what earlier
ones did, a bad contact is set aside alone, and a redelivered batch replays its decisions."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from faststream.kafka import KafkaBroker

from services.intake.config import load_rules
from services.intake.service import IntakeService
from services.intake.settings import IntakeSettings
from services.intake.store_memory import MemoryIntakeStore
from shared.consuming import Batch, Delivery
from shared.events import ContactReceived
from shared.idempotency import MemoryGuard
from shared.publishing import Publisher

CONFIG = Path(__file__).resolve().parents[2] / "config"


class FakeDetector:
    def detect(self, text: str) -> str | None:
        return "en"


@pytest.fixture
def intake() -> IntakeService:
    settings = IntakeSettings(config_dir=CONFIG)
    tickets = Publisher(KafkaBroker(), settings.topics.tickets, dict, title="tickets")
    return IntakeService(
        MemoryIntakeStore(),
        load_rules(CONFIG),
        FakeDetector(),  # type: ignore[arg-type]
        settings,
        tickets,
        MemoryGuard(),
        Publisher(KafkaBroker(), settings.topics.customers, dict, title="customers"),
    )


def email(sender: str, subject: str, body: str, **extra: Any) -> ContactReceived:
    return ContactReceived(
        contact_id=extra.pop("contact_id", f"c-{uuid.uuid4().hex[:8]}"),
        message={
            "channel": "email",
            "from_address": sender,
            "subject": subject,
            "body": body,
            **extra,
        },
    )


def batch_of(*contacts: ContactReceived) -> Batch[ContactReceived]:
    return Batch(
        [Delivery(c, "contacts", 0, i, c.kafka_key(), None) for i, c in enumerate(contacts)]
    )


def published(batch: Batch[Any]) -> list[tuple[str, str]]:
    return [(e.event_type, str(e.ticket_id)) for _, e in batch.outgoing]


async def test_a_reply_in_the_same_batch_joins_the_ticket_its_mail_opened(
    intake: IntakeService,
) -> None:
    first = email("ana@example.com", "Wifi", "It drops", message_id="<m1@mail.example>")
    reply = email("ana@example.com", "Re: Wifi", "Still drops", in_reply_to="<m1@mail.example>")
    other = email("bob@example.com", "Invoice", "Wrong amount")
    batch = batch_of(first, reply, other)
    await intake.take_contacts(batch)

    events = published(batch)
    assert [kind for kind, _ in events] == [
        "ticket.opened",
        "ticket.contact_appended",
        "ticket.opened",
    ]
    assert events[0][1] == events[1][1] != events[2][1]
    store = intake.store
    assert isinstance(store, MemoryIntakeStore)
    assert len(store.tickets) == 2
    history = store.tickets[events[0][1]]["history"]
    assert [h["event_type"] for h in history] == ["ticket.opened", "ticket.contact_appended"]
    assert len(store.customers) == 2


async def test_one_customer_writing_twice_in_a_batch_is_one_customer_and_a_repeat(
    intake: IntakeService,
) -> None:
    a = email("ana@example.com", "Wifi router drops", "The wifi router drops every evening")
    b = email("ana@example.com", "Wifi router drops again", "The wifi router drops every evening")
    batch = batch_of(a, b)
    await intake.take_contacts(batch)
    opened = [e for _, e in batch.outgoing]
    assert [e.event_type for e in opened] == ["ticket.opened", "ticket.opened"]
    assert opened[0].customer_id == opened[1].customer_id  # type: ignore[attr-defined]
    assert opened[1].repeat_of == opened[0].ticket_id  # type: ignore[attr-defined]


async def test_a_bad_contact_is_set_aside_and_the_rest_of_the_batch_is_decided(
    intake: IntakeService,
) -> None:
    good = email("ana@example.com", "Wifi", "It drops")
    empty = email("bob@example.com", "", "   ")
    call = ContactReceived(
        contact_id="call-1",
        message={"channel": "phone", "caller_number": "not a number", "outcome": "missed"},
    )
    batch = batch_of(good, empty, call)
    await intake.take_contacts(batch)
    assert [kind for kind, _ in published(batch)] == ["ticket.opened"]
    reasons = sorted(str(exc) for _, exc in batch.failed)
    assert len(reasons) == 2
    assert reasons[0].startswith("empty_contact") and reasons[1].startswith("invalid_phone")


async def test_a_redelivered_batch_replays_its_decisions_with_the_same_ids(
    intake: IntakeService,
) -> None:
    contacts = [email(f"c{i}@example.com", "Wifi", f"case {i}") for i in range(5)]
    first = batch_of(*contacts)
    await intake.take_contacts(first)
    # The process died before the batch's events were marked processed: all go out again.
    again = batch_of(*contacts)
    await intake.take_contacts(again)
    assert [str(e.event_id) for _, e in again.outgoing] == [
        str(e.event_id) for _, e in first.outgoing
    ]
    store = intake.store
    assert isinstance(store, MemoryIntakeStore)
    assert len(store.tickets) == 5
    # Once marked, the same contacts under new event ids publish nothing more.
    await intake.guard.mark_many("contact", [str(c.event_id) for c in contacts])
    resent = batch_of(*[c.model_copy(update={"event_id": uuid.uuid4()}) for c in contacts])
    await intake.take_contacts(resent)
    assert resent.outgoing == []
    assert all(len(t["history"]) == 1 for t in store.tickets.values())


async def test_a_contact_with_an_endless_subject_is_refused_as_oversize(
    intake: IntakeService,
) -> None:
    batch = batch_of(email("ana@example.com", "Wifi " * 1000, "It drops"))
    await intake.take_contacts(batch)
    assert batch.outgoing == []
    ((_, refused),) = batch.failed
    assert str(refused).startswith("oversize: the subject is 5000 characters")
