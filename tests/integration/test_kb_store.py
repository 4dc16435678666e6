"""The knowledge base store's contract, run against MongoDB and the in-memory store alike, so the
fake the use-case tests run on behaves as the real one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from services.kb.domain.articles import Article, ArticleText
from services.kb.domain.canned import CannedResponse
from services.kb.domain.erasure import search_patterns
from services.kb.domain.tickets import OfferClaim, Opened, Routed
from services.kb.settings import KbSettings
from services.kb.store import KbStore, MongoKbStore
from services.kb.store_memory import MemoryKbStore
from shared.events import ArticleMatch
from shared.mongo import ensure_indexes, make_mongo_client

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "mongo"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[KbStore]:
    if request.param == "memory":
        yield MemoryKbStore()
        return
    settings = request.getfixturevalue("make_settings")(KbSettings)
    mongo = make_mongo_client(settings.mongo)
    db = mongo[settings.database_name]
    await ensure_indexes(db, MongoKbStore.indexes(timedelta(days=30)))
    try:
        yield MongoKbStore(db)
    finally:
        await mongo.close()


def article(article_id: str, version: int = 1, **fields: object) -> Article:
    text = ArticleText(title=f"Title of {article_id}", body="Body.")
    at = T0 + timedelta(minutes=version)
    return Article.model_validate(
        {
            "article_id": article_id,
            "version": version,
            "translations": {"en": text},
            "updated_at": at,
            **fields,
        }
    )


def match(article_id: str, score: float = 5.0) -> ArticleMatch:
    return ArticleMatch(article_id=article_id, title="T", language="en", score=score)


async def test_an_article_is_created_once_and_saved_only_over_its_own_version(
    store: KbStore,
) -> None:
    assert await store.create(article("a"))
    assert not await store.create(article("a", category="network"))
    assert await store.save(article("a", 2), from_version=1)
    assert not await store.save(article("a", 3), from_version=1)
    assert not await store.save(article("never", 2), from_version=1)
    assert [a.version for a in await store.versions("a")] == [2, 1]
    assert (await store.article("a")) == article("a", 2)
    assert await store.article("never") is None


async def test_seeding_adds_only_what_is_missing(store: KbStore) -> None:
    await store.create(article("a", 4))
    assert await store.add_missing([article("a"), article("b"), article("c")]) == 2
    assert await store.add_missing([article("b")]) == 0
    assert (await store.article("a")) == article("a", 4)
    assert [a.version for a in await store.versions("b")] == [1]
    found = await store.articles_by_ids(["a", "c", "nope"])
    assert sorted(found) == ["a", "c"] and found["a"].version == 4


async def test_listings_filter_and_come_newest_first(store: KbStore) -> None:
    await store.add_missing(
        [
            article("a", 1, status="published", category="network"),
            article("b", 3, status="published", category="account"),
            article("c", 2, status="draft", category="network"),
        ]
    )
    assert [a.article_id for a in await store.articles()] == ["b", "c", "a"]
    assert [a.article_id for a in await store.articles(status="published")] == ["b", "a"]
    assert [a.article_id for a in await store.articles(category="network", limit=1)] == ["c"]
    since = T0 + timedelta(minutes=2)
    assert sorted(a.article_id for a in await store.changed_since(since)) == ["b", "c"]
    assert len(await store.every_article()) == 3


async def test_canned_responses_are_added_replaced_and_deleted(store: KbStore) -> None:
    hello = CannedResponse(canned_id="hello", title="Hi", texts={"en": "Hi {customer_name}"})
    hola = CannedResponse(canned_id="bye", title="Bye", texts={"ru": "Пока {customer_name}"})
    assert await store.add_missing_canned([hello, hola]) == 2
    assert await store.add_missing_canned([hello]) == 0
    assert [c.canned_id for c in await store.canned()] == ["bye", "hello"]
    assert [c.canned_id for c in await store.canned("ru")] == ["bye"]
    changed = hello.model_copy(update={"title": "Hello"})
    await store.put_canned(changed)
    assert await store.canned_response("hello") == changed
    assert await store.delete_canned("hello")
    assert not await store.delete_canned("hello")
    assert await store.canned_response("hello") is None


async def test_tickets_merge_both_halves_in_either_order(store: KbStore) -> None:
    suggestions = (match("password-reset"),)
    await store.note_tickets({"t-1": Routed("account", "password")})
    await store.note_tickets(
        {
            "t-1": Opened("HD-1", "en", "Password", suggestions),
            "t-2": Opened("HD-2", "ru", "Пароль", ()),
        }
    )
    await store.note_tickets({"t-2": Routed("hardware", None)})
    found = await store.tickets(["t-1", "t-2", "t-none"])
    assert sorted(found) == ["t-1", "t-2"]
    first, second = found["t-1"], found["t-2"]
    assert (first.category, first.subcategory, first.suggestions) == (
        "account",
        "password",
        suggestions,
    )
    assert (first.reference, first.language, first.subject) == ("HD-1", "en", "Password")
    assert (second.category, second.suggestions) == ("hardware", ())
    assert await store.ticket("t-1") == first
    assert await store.ticket("t-none") is None
    # A ticket heard of only through routing has no suggestions yet.
    await store.note_tickets({"t-3": Routed("account", None)})
    assert (await store.ticket("t-3")).suggestions is None  # type: ignore[union-attr]


async def test_an_offer_is_claimed_once_and_found_again_by_its_own_claim(store: KbStore) -> None:
    await store.note_tickets({t: Routed("account", None) for t in ("t-1", "t-2")})
    mine, theirs = OfferClaim("offer-a", (match("a"),)), OfferClaim("offer-b", (match("b"),))
    assert await store.claim_offers({"t-1": mine}) == {"t-1"}
    assert await store.claim_offers({"t-1": theirs, "t-2": theirs}) == {"t-2"}
    assert await store.claim_offers({"t-1": mine}) == {"t-1"}  # a redelivered claim holds
    ticket = await store.ticket("t-1")
    assert ticket is not None and ticket.offer_id == "offer-a"
    assert ticket.offered == (match("a"),)


async def test_reads_of_many_tickets_go_in_chunks_and_find_them_all(store: KbStore) -> None:
    ids = [f"t-{i}" for i in range(250)]
    await store.note_tickets({t: Routed("account", None) for t in ids})
    assert sorted(await store.tickets([*ids, "t-none"])) == sorted(ids)


async def test_counts_add_up_per_article_and_order_the_report(store: KbStore) -> None:
    await store.count({"a": {"views": 2, "suggested": 1}, "b": {"views": 5}})
    await store.count({"a": {"views": 1, "offered": 3}})
    rows = await store.article_rows(order="views")
    assert [(r.article_id, r.views) for r in rows] == [("b", 5), ("a", 3)]
    assert (rows[1].suggested, rows[1].offered, rows[1].helpful) == (1, 3, 0)
    assert [r.article_id for r in await store.article_rows(order="offered", limit=1)] == ["a"]


async def test_searches_are_logged_grouped_by_their_words_and_opened(store: KbStore) -> None:
    await store.searched("q1", "Wi-Fi drops", "en", 2, T0)
    await store.searched("q2", "wi-fi  DROPS", "en", 0, T0 + timedelta(minutes=1))
    await store.searched("q3", "refund", "en", 0, T0 + timedelta(minutes=2))
    await store.searched("q0", "old", "en", 0, T0 - timedelta(days=2))
    assert await store.opened("q1", "wifi-drops")
    assert not await store.opened("q-none", "wifi-drops")
    rows = await store.top_queries(T0 - timedelta(hours=1))
    assert [(r.searches, r.found_nothing, r.opened) for r in rows] == [(2, 1, 1), (1, 1, 0)]
    assert rows[0].last_searched == T0 + timedelta(minutes=1)
    empty = await store.top_queries(T0 - timedelta(hours=1), only_empty=True)
    assert sorted(r.query for r in empty) == ["refund", "wi-fi  DROPS"]


async def test_a_ticket_is_deflected_once(store: KbStore) -> None:
    assert await store.deflection("t-1") is None
    assert await store.deflected("t-1", "a", T0)
    assert not await store.deflected("t-1", "b", T0)
    assert await store.deflection("t-1") == "a"


# -- erasure -----------------------------------------------------------------------------------


async def test_articles_drafted_from_tickets_are_found_deleted_or_unlinked(store: KbStore) -> None:
    drafted = {"source_ticket_id": "t-1", "updated_by": "kb"}
    await store.create(article("from-t-1", 1, **drafted))
    await store.save(article("from-t-1", 2, source_ticket_id="t-1", status="published"), 1)
    await store.create(article("from-t-2", 1, **{**drafted, "source_ticket_id": "t-2"}))
    await store.create(article("from-t-3", 1, **{**drafted, "source_ticket_id": "t-3"}))
    found = await store.articles_from(["t-1", "t-2", "t-none"])
    assert sorted(a.article_id for a in found) == ["from-t-1", "from-t-2"]
    assert await store.articles_from([]) == []

    await store.delete_articles(["from-t-2"])
    await store.unlink_articles(["from-t-1"])
    assert await store.article("from-t-2") is None
    assert await store.versions("from-t-2") == []
    kept = await store.article("from-t-1")
    assert kept is not None and kept.source_ticket_id is None and kept.version == 2
    # The version the knowledge base drafted goes; what an editor saved stays, unlinked.
    assert [(v.version, v.source_ticket_id) for v in await store.versions("from-t-1")] == [
        (2, None)
    ]
    assert await store.articles_from(["t-1"]) == []
    other = await store.article("from-t-3")
    assert other is not None and other.source_ticket_id == "t-3"
    # Twice changes nothing.
    await store.delete_articles(["from-t-2"])
    await store.unlink_articles(["from-t-1"])
    assert await store.article("from-t-1") == kept


async def test_ticket_records_are_forgotten_and_deflections_keep_their_article(
    store: KbStore,
) -> None:
    await store.note_tickets(
        {t: Opened("HD-1", "en", f"Subject of {t}", (match("a"),)) for t in ("t-1", "t-2")}
    )
    await store.deflected("t-1", "a", T0)
    await store.forget_tickets(["t-1", "t-none"])
    await store.forget_deflections(["t-1", "t-none"])
    assert sorted(await store.tickets(["t-1", "t-2"])) == ["t-2"]
    assert await store.deflection("t-1") == "a"
    assert not await store.deflected("t-1", "b", T0)


async def test_searches_naming_a_person_are_forgotten(store: KbStore) -> None:
    await store.searched("q1", "Anna.Petrova@example.com password", "en", 1, T0)
    await store.searched("q2", "call 210 123-4567", "en", 0, T0)
    await store.searched("q3", "Wi-Fi drops", "en", 2, T0)
    patterns = search_patterns(["email:anna.petrova@example.com", "phone:+302101234567"])
    await store.forget_searches(patterns)
    await store.forget_searches([])
    rows = await store.top_queries(T0 - timedelta(hours=1))
    assert [r.query for r in rows] == ["Wi-Fi drops"]
