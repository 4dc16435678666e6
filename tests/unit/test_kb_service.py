"""The knowledge base's use cases on the in-memory store, fed batches through its subscribers:
suggestions and their counts in bulk, the self-help join of opened and routed tickets in either
order and offered once, each ticket's events in order within a batch, a poison record set aside
while its batch goes on, and what a batch costs the store whatever its size."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from services.kb.config import load_config
from services.kb.domain.articles import Article, ArticleText
from services.kb.domain.tickets import OfferClaim, Routed
from services.kb.handlers import register
from services.kb.keeper import IndexKeeper
from services.kb.outbox import Outbox
from services.kb.search import SearchIndex
from services.kb.service import SELF_HELP_ISSUER, KbService
from services.kb.settings import KbSettings
from services.kb.store_memory import MemoryKbStore
from shared.agent_tokens import TokenKeys
from shared.clock import FakeClock
from shared.consuming import ConsumerKit
from shared.events import (
    ArticleMatch,
    Event,
    KbArticleChanged,
    TicketOpened,
    TicketRouted,
    TicketStatusChanged,
    kb_events,
)
from shared.idempotency import MemoryGuard
from shared.ids import derived_id
from shared.language import LanguageDetector
from shared.settings import KafkaSettings

ROOT = Path(__file__).resolve().parents[2]
CONFIG = load_config(ROOT / "config")
SECRET = "kb-unit-tests-secret-of-32-bytes-or-more"
PASSWORD = ("Forgot my password", "How do I reset my password? I cannot sign in")


class Latin:
    """Says English for any text; a text saying `poison` cannot be read at all."""

    def detect(self, text: str) -> str | None:
        if "poison" in text:
            raise ValueError("no language can be told for this text")
        return "en"


class Desk:
    """The knowledge base's subscribers and use cases on the in-memory store and broker."""

    def __init__(self) -> None:
        self.settings = KbSettings(
            config_dir=ROOT / "config",
            public_url="https://help.example/kb",
            kafka=KafkaSettings(max_attempts=2),
        )
        self.store = MemoryKbStore()
        self.broker = KafkaBroker()
        self.guard = MemoryGuard()
        kit = ConsumerKit(self.broker, self.settings, self.guard)
        clock = FakeClock()
        self.kb = KbService(
            store=self.store,
            keeper=IndexKeeper(SearchIndex(tuning=CONFIG.tuning), self.store, clock),
            config=CONFIG,
            detector=cast(LanguageDetector, Latin()),
            out=Outbox.on(kit, self.settings.topics.kb),
            clock=clock,
            self_help_tokens=TokenKeys(SECRET, issuer=SELF_HELP_ISSUER),
            public_url=self.settings.public_url,
        )
        register(kit, self.kb)
        self.published: list[Event] = []
        self.letters: list[dict[str, Any]] = []

        @self.broker.subscriber(self.settings.topics.kb, group_id="capture")
        async def capture(body: dict[str, Any]) -> None:
            self.published.append(kb_events.validate_python(body))

        @self.broker.subscriber(self.settings.topics.deadletter, group_id="capture")
        async def letters(body: dict[str, Any]) -> None:
            self.letters.append(body)

    async def feed(self, topic: str, *records: Event | bytes) -> None:
        """Hand the records to the subscribers of `topic` as one batch."""
        bodies = [r if isinstance(r, bytes) else r.model_dump(mode="json") for r in records]
        await self.broker.publish_batch(*bodies, topic=topic)

    async def tickets(self, *records: Event | bytes) -> None:
        await self.feed(self.settings.topics.tickets, *records)

    async def routing(self, *records: Event | bytes) -> None:
        await self.feed(self.settings.topics.routing, *records)

    def of(self, kind: str) -> list[Any]:
        return [e for e in self.published if e.event_type == kind]


@pytest.fixture
async def desk() -> Any:
    desk = Desk()
    await desk.kb.seed()
    async with TestKafkaBroker(desk.broker):
        desk.store.calls.clear()
        yield desk


def opened(ticket_id: str, subject: str = PASSWORD[0], body: str = PASSWORD[1]) -> TicketOpened:
    return TicketOpened(
        ticket_id=ticket_id,
        reference=f"HD-{ticket_id[-6:].upper():A>6}",
        contact_id=f"c-{ticket_id}",
        customer_id="cu-1",
        channel="email",
        subject=subject,
        body=body,
    )


def routed(ticket_id: str, category: str = "account", sub: str | None = "password") -> TicketRouted:
    return TicketRouted(
        ticket_id=ticket_id,
        category=category,
        subcategory=sub,
        impact="low",
        urgency="medium",
        priority="P4",
        tier="L1",
        team="accounts",
        reason="classified",
    )


async def test_a_batch_of_new_tickets_is_suggested_and_counted_per_article_in_one_write(
    desk: Desk,
) -> None:
    await desk.tickets(*(opened(f"t-{i}") for i in range(4)))
    suggested = desk.of("kb.suggested")
    assert sorted(e.ticket_id for e in suggested) == [f"t-{i}" for i in range(4)]
    assert all(e.articles[0].article_id == "password-reset" for e in suggested)
    assert desk.store.stats["password-reset"]["suggested"] == 4
    assert desk.store.calls["count"] == desk.store.calls["note_tickets"] == 1
    assert desk.store.tickets_by_id["t-2"].subject == PASSWORD[0]


async def test_a_ticket_opened_again_counts_its_suggestions_once(desk: Desk) -> None:
    ticket = opened("t-1")
    await desk.tickets(ticket, ticket)
    await desk.tickets(ticket)
    assert len(desk.of("kb.suggested")) == 1
    assert desk.store.stats["password-reset"]["suggested"] == 1


@pytest.mark.parametrize("routing_first", [True, False])
async def test_self_help_is_offered_once_both_suggestions_and_category_are_known(
    desk: Desk, routing_first: bool
) -> None:
    if routing_first:
        await desk.routing(routed("t-1"))
        assert desk.of("kb.self_help_offered") == []
        await desk.tickets(opened("t-1"))
    else:
        await desk.tickets(opened("t-1"))
        assert desk.of("kb.self_help_offered") == []
        await desk.routing(routed("t-1"))
    await desk.routing(routed("t-1"))  # routed again: no second offer

    [offer] = desk.of("kb.self_help_offered")
    assert (offer.ticket_id, offer.category) == ("t-1", "account")
    assert [m.article_id for m in offer.articles] == ["password-reset"]
    assert offer.link.startswith("https://help.example/kb/self-help/")
    assert desk.store.tickets_by_id["t-1"].offer_id == str(offer.event_id)
    assert desk.store.stats["password-reset"]["offered"] == 1


async def test_when_both_subscribers_read_both_halves_the_claim_lets_one_offer_through(
    desk: Desk,
) -> None:
    # The routing subscriber has written its half but not read yet; the ticket subscriber
    # writes and reads both, and offers; then the routing subscriber reads both too.
    await desk.store.note_tickets({"t-1": Routed("account", "password")})
    await desk.tickets(opened("t-1"))
    await desk.routing(routed("t-1"))
    assert len(desk.of("kb.self_help_offered")) == 1
    assert desk.store.stats["password-reset"]["offered"] == 1


async def test_an_offer_claimed_by_a_try_that_then_crashed_is_published_on_redelivery(
    desk: Desk,
) -> None:
    await desk.tickets(opened("t-1"))
    routing = routed("t-1")
    offer_id = str(derived_id(routing.event_id, "kb.self_help_offered"))
    match = ArticleMatch(article_id="password-reset", title="x", language="en", score=9.0)
    assert await desk.store.claim_offers({"t-1": OfferClaim(offer_id, (match,))}) == {"t-1"}
    await desk.routing(routing)
    [offer] = desk.of("kb.self_help_offered")
    assert str(offer.event_id) == offer_id


async def test_other_categories_and_weak_matches_are_not_offered(desk: Desk) -> None:
    await desk.tickets(opened("t-1"), opened("t-2", "Printer jams", "The printer jams"))
    await desk.routing(routed("t-1", "hardware", "device"), routed("t-2"))
    assert desk.of("kb.self_help_offered") == []


async def test_events_of_one_ticket_in_one_batch_are_handled_in_order(desk: Desk) -> None:
    resolved = TicketStatusChanged(
        ticket_id="t-7",
        status="resolved",
        previous_status="open",
        resolution_note="Turn off 'Allow the computer to turn off this device'.",
    )
    await desk.tickets(opened("t-7", "VPN drops after sleep", "The VPN disconnects"), resolved)
    draft = desk.store.articles_by_id["from-t-7"]
    assert draft.translations["en"].title == "VPN drops after sleep"
    assert [e.article_id for e in desk.of("kb.article_changed")] == ["from-t-7"]

    # The routing that comes last is the one that stands.
    await desk.tickets(opened("t-8"), opened("t-9"))
    await desk.routing(routed("t-8", "hardware", "device"), routed("t-8"))
    await desk.routing(routed("t-9"), routed("t-9", "hardware", "device"))
    assert [o.ticket_id for o in desk.of("kb.self_help_offered")] == ["t-8"]


async def test_a_poison_record_is_dead_lettered_while_the_rest_of_its_batch_is_handled(
    desk: Desk,
) -> None:
    await desk.tickets(
        opened("t-1"),
        b"not json at all",
        opened("t-2", "poison", "nobody can read this"),
        opened("t-3"),
    )
    assert sorted(e.ticket_id for e in desk.of("kb.suggested")) == ["t-1", "t-3"]
    reasons = sorted(letter["reason"] for letter in desk.letters)
    assert len(reasons) == 2
    assert reasons[0].startswith("JSONDecodeError")
    assert "no language can be told" in reasons[1]
    assert desk.store.stats["password-reset"]["suggested"] == 2
    assert "t-2" not in desk.store.tickets_by_id


@pytest.mark.parametrize("size", [3, 60])
async def test_a_batch_costs_the_store_the_same_calls_whatever_its_size(
    desk: Desk, size: int
) -> None:
    await desk.tickets(*(opened(f"t-{i}") for i in range(size)))
    assert desk.store.calls == {"note_tickets": 1, "tickets": 1, "count": 1}
    desk.store.calls.clear()
    await desk.routing(*(routed(f"t-{i}") for i in range(size)))
    assert desk.store.calls == {"note_tickets": 1, "tickets": 1, "claim_offers": 1, "count": 1}
    assert len(desk.of("kb.self_help_offered")) == size
    assert desk.store.stats["password-reset"] == {"suggested": size, "offered": size}


async def test_article_changes_of_a_batch_are_read_once_and_indexed_together(
    desk: Desk,
) -> None:
    changes = []
    for n, word in enumerate(("pinhole", "paperclip")):
        article = Article(
            article_id=f"modem-{n}",
            status="published",
            version=2,
            translations={"en": ArticleText(title="Resetting the modem", body=f"Use a {word}.")},
        )
        await desk.store.create(article)
        changes.append(
            KbArticleChanged(article_id=article.article_id, version=2, status="published")
        )
    desk.store.calls.clear()
    await desk.feed(desk.settings.topics.kb, *changes, changes[0])
    assert desk.store.calls == {"articles_by_ids": 1}
    found = desk.kb.keeper.index.search("paperclip", ["en"])
    assert [h.article_id for h in found.hits] == ["modem-1"]
