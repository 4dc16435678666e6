"""What a batch costs the real database: the `helpdesk_db_commands` counter around batches of new
and routed tickets of different sizes shows a fixed number of commands per batch, not per event."""

from __future__ import annotations

from collections import Counter

import pytest

from shared.events import Event, KbSelfHelpOffered, KbSuggested
from shared.mongo import DB_COMMANDS
from tests.handler.kb.conftest import Kb
from tests.handler.kb.test_suggestions import opened, routed


def commands() -> Counter[str]:
    """Every command this process sent so far, by name."""
    sent: Counter[str] = Counter()
    for metric in DB_COMMANDS.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                sent[sample.labels["command"]] += int(sample.value)
    return sent


async def cost(kb: Kb, topic: str, events: list[Event]) -> Counter[str]:
    """The commands one batch of `events` costs."""
    before = commands()
    await kb.broker.publish_batch(*(e.model_dump(mode="json") for e in events), topic=topic)
    return commands() - before


@pytest.mark.parametrize("size", [5, 150])
async def test_a_batch_of_tickets_costs_a_few_commands_whatever_its_size(kb: Kb, size: int) -> None:
    ids = [f"b{size}-{i}" for i in range(size)]
    subject, body = "Forgot my password", "How do I reset my password? I cannot sign in"
    opening = await cost(kb, kb.settings.topics.tickets, [opened(t, subject, body) for t in ids])
    routing = await cost(
        kb, kb.settings.topics.routing, [routed(t, "account", "password") for t in ids]
    )

    assert len(kb.of(KbSuggested)) == len(kb.of(KbSelfHelpOffered)) == size
    chunks = -(-size // 100)  # reads of more than 100 ids go in chunks of 100
    # The guard's read, the tickets' write, their read (for the self-help join), the counts'
    # write, the guard's insert; routing adds the claim of the offers.
    assert opening == {"find": 2 * chunks, "update": 2, "insert": 1}
    assert routing == {"find": 2 * chunks, "update": 3, "insert": 1}
