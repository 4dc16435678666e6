"""Erasing a customer from the knowledge base, on the in-memory store through its subscriber:
which searches name the person, what becomes of their tickets' records, deflections and the
drafts made from them; erasing twice changes nothing; merges change nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker

from services.kb.domain.articles import Article, ArticleText
from services.kb.domain.erasure import identity_values, names_the_person, search_patterns
from services.kb.domain.reports import query_key
from shared.events import CustomerErased, CustomerMerged, Event, TicketStatusChanged
from tests.unit.test_kb_service import Desk, opened, routed

ANNA = [
    "email:anna.petrova@example.com",
    "phone:+302101234567",
    "chat:w-77",
    "name:Anna Petrova",
]


def erased(*ticket_ids: str, identities: list[str] = ANNA) -> CustomerErased:
    return CustomerErased(
        customer_id="cu-anna",
        customer_ids=["cu-anna", "cu-anna-old"],
        ticket_ids=list(ticket_ids),
        identities=identities,
        requested_by="mgr-accounts",
    )


def found(query: str, identities: list[str] = ANNA) -> bool:
    return names_the_person(query_key(query), search_patterns(identities))


def test_identities_are_read_by_their_kind_and_a_bare_one_is_a_name() -> None:
    assert identity_values([*ANNA, "Ana Silva", "email:", "fax:123"]) == [
        ("email", "anna.petrova@example.com"),
        ("phone", "+302101234567"),
        ("chat", "w-77"),
        ("name", "Anna Petrova"),
        ("name", "Ana Silva"),
        ("name", "fax:123"),
    ]


@pytest.mark.parametrize(
    "query",
    [
        "Anna.Petrova@Example.com cannot log in",
        "call +30 210 123 4567 please",
        "my number (210) 123-4567",
        "۲۱۰۱۲۳۴۵۶۷",
        "2101234567",
        "chat w-77 lost",
        "ANNA  PETROVA password",
        "Ánna Petróva",
    ],
)
def test_a_search_naming_the_person_in_any_spelling_is_found(query: str) -> None:
    assert found(query)


@pytest.mark.parametrize(
    "query", ["Wi-Fi drops", "anna cannot log in", "petrova", "210 123", "invoice 2024"]
)
def test_a_search_not_naming_the_person_is_not(query: str) -> None:
    assert not found(query)


async def note_searches(desk: Desk, *queries: str) -> None:
    for n, query in enumerate(queries):
        at = desk.kb.clock.now() + timedelta(seconds=n)
        await desk.store.searched(f"q{n}", query, "en", 1, at)


def snapshot(desk: Desk) -> dict[str, Any]:
    store = desk.store
    return {
        "articles": dict(store.articles_by_id),
        "versions": dict(store.versions_by_id),
        "tickets": dict(store.tickets_by_id),
        "searches": {q: vars(s).copy() for q, s in store.searches.items()},
        "deflections": dict(store.deflections),
    }


@pytest.fixture
async def desk() -> Any:
    desk = Desk()
    await desk.kb.seed()
    async with TestKafkaBroker(desk.broker):
        yield desk


async def customers(desk: Desk, *events: Event) -> None:
    await desk.feed(desk.settings.topics.customers, *events)


def resolved(ticket_id: str, note: str) -> TicketStatusChanged:
    return TicketStatusChanged(
        ticket_id=ticket_id, status="resolved", previous_status="open", resolution_note=note
    )


async def test_erasure_removes_the_person_and_leaves_everyone_else(desk: Desk) -> None:
    await desk.tickets(
        opened("t-101", "Anna Petrova: forgot my password"),
        opened("t-102", "VPN drops, Anna Petrova"),
        opened("t-103", "Printer for Anna Petrova"),
        opened("t-201", "Boris Ivanov: forgot my password"),
    )
    await desk.routing(routed("t-101"), routed("t-201"))
    await desk.tickets(
        resolved("t-102", "Told Anna to reinstall the VPN client."),
        resolved("t-103", "Anna's printer needed a new driver."),
        resolved("t-201", "Boris reset it himself."),
    )
    # An editor rewrote and published the printer draft; the VPN one is still a draft.
    printer = desk.store.articles_by_id["from-t-103"]
    rewritten = printer.model_copy(
        update={
            "translations": {"en": ArticleText(title="Printer driver", body="Reinstall it.")},
            "version": 2,
            "status": "published",
            "updated_by": "lead-technical",
        }
    )
    assert await desk.store.save(rewritten, from_version=1)
    assert await desk.store.deflected("t-101", "password-reset", desk.kb.clock.now())
    assert await desk.store.deflected("t-201", "password-reset", desk.kb.clock.now())
    await note_searches(
        desk, "anna.petrova@example.com reset", "210-123-4567", "Wi-Fi drops", "boris ivanov"
    )

    await customers(desk, erased("t-101", "t-102", "t-103"))

    store = desk.store
    assert sorted(store.tickets_by_id) == ["t-201"]
    assert sorted(s.query for s in store.searches.values()) == ["Wi-Fi drops", "boris ivanov"]
    assert store.deflections == {"t-101": "password-reset", "t-201": "password-reset"}
    assert "from-t-102" not in store.articles_by_id
    assert not [key for key in store.versions_by_id if key[0] == "from-t-102"]
    kept = store.articles_by_id["from-t-103"]
    assert (kept.status, kept.source_ticket_id) == ("published", None)
    assert kept.translations["en"].title == "Printer driver"
    # The version the knowledge base drafted from the ticket (the customer's subject) goes.
    assert [k for k in store.versions_by_id if k[0] == "from-t-103"] == [("from-t-103", 2)]
    assert store.articles_by_id["from-t-201"].source_ticket_id == "t-201"
    everything = repr(snapshot(desk)).lower()
    for trace in ("anna", "petrova", "2101234567", "210-123", "w-77"):
        assert trace not in everything, trace
    assert "boris" in everything

    before = snapshot(desk)
    await customers(desk, erased("t-101", "t-102", "t-103"))
    assert snapshot(desk) == before


async def test_a_merge_changes_nothing_since_the_kb_keeps_no_customer_ids(desk: Desk) -> None:
    await desk.tickets(opened("t-1"))
    await note_searches(desk, "password")
    before = snapshot(desk)
    merged = CustomerMerged(customer_id="cu-1", merged_id="cu-2")
    await customers(desk, merged)
    assert snapshot(desk) == before
    assert desk.letters == []


async def test_an_erasure_naming_nothing_the_kb_holds_changes_nothing(desk: Desk) -> None:
    article = Article(
        article_id="from-t-x",
        status="draft",
        source_ticket_id="t-x",
        translations={"en": ArticleText(title="X", body="x")},
    )
    await desk.store.create(article)
    await note_searches(desk, "password")
    before = snapshot(desk)
    await customers(desk, erased("t-other", identities=[]))
    assert snapshot(desk) == before
