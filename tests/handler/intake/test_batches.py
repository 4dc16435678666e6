"""A batch of contacts costs a few database commands, whatever its size: reads and writes are
bulk, so a burst is bound by the work, not by round trips."""

from __future__ import annotations

import uuid
from typing import Any

from aiokafka.structs import ConsumerRecord

from shared.events import ContactReceived
from shared.mongo import DB_COMMANDS
from tests.handler.intake.support import Desk


def commands() -> float:
    samples = next(iter(DB_COMMANDS.collect())).samples
    return sum(sample.value for sample in samples if sample.name.endswith("_total"))


def records(desk: Desk, count: int) -> list[ConsumerRecord[bytes, bytes]]:
    out = []
    for i in range(count):
        contact = ContactReceived(
            contact_id=f"c-{uuid.uuid4().hex[:10]}",
            message={
                "channel": "email",
                "from_address": f"customer{i % 7}@example.com",
                "subject": "Wifi keeps disconnecting",
                "body": f"The router drops the network, case {i}.",
                "message_id": f"<{uuid.uuid4().hex}@mail.example>",
            },
        )
        value = contact.model_dump_json().encode()
        out.append(
            ConsumerRecord(
                desk.settings.topics.contacts, 0, i, 0, 0, b"k", value, None, 1, len(value), []
            )
        )
    return out


async def cost_of(desk: Desk, count: int) -> tuple[float, int]:
    assert desk.service.kit is not None
    spec = desk.service.kit.subscriptions["intake.on_contact"]
    before, opened = commands(), len(desk.events("ticket.opened"))
    await desk.service.kit.consume(spec, records(desk, count))
    return commands() - before, len(desk.events("ticket.opened")) - opened


async def test_a_batch_of_contacts_costs_the_same_commands_at_ten_and_at_fifty(
    desk: Desk,
) -> None:
    await cost_of(desk, 3)  # the customers exist from here on, as in a busy morning
    small, opened_small = await cost_of(desk, 10)
    large, opened_large = await cost_of(desk, 50)
    assert (opened_small, opened_large) == (10, 50)
    # The small batch also creates four customers (one more insert); then nothing grows.
    assert large <= small, (small, large)
    assert large <= 12, large
    letters: list[Any] = desk.letters
    assert letters == []
