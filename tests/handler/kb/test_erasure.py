"""The right to erasure on the real database: after `customer.erased`, no collection of the
knowledge base's database holds the person's address, name, phone number or chat id, while
other customers' data stays; a second delivery changes nothing."""

from __future__ import annotations

import re
from typing import Any

from shared.events import CustomerErased, KbSelfHelpOffered, TicketStatusChanged
from tests.handler.kb.conftest import Kb
from tests.handler.kb.test_suggestions import opened, routed

ADDRESS, PHONE, NAME, CHAT = "anna.petrova@example.com", "+302101234567", "Anna Petrova", "w-77"
#: How the person may be written anywhere: any case, the number with or without spacing.
TRACES = [
    re.compile(re.escape(ADDRESS), re.IGNORECASE),
    re.compile(r"\+?(30)?\W*210\W*123\W*4567"),
    re.compile(NAME.replace(" ", r"\s+"), re.IGNORECASE),
    re.compile(r"\bPetrova\b", re.IGNORECASE),
    re.compile(re.escape(CHAT)),
]


async def everything(kb: Kb) -> dict[str, list[dict[str, Any]]]:
    """Every document of every collection of the knowledge base's database."""
    db = kb.service.db
    names = sorted(await db.list_collection_names())
    return {name: [doc async for doc in db[name].find({}).sort("_id", 1)] for name in names}


def traces(collections: dict[str, list[dict[str, Any]]]) -> list[tuple[str, Any, str]]:
    return [
        (name, doc.get("_id"), pattern.pattern)
        for name, docs in collections.items()
        for doc in docs
        for pattern in TRACES
        if pattern.search(repr(doc))
    ]


def resolved(ticket_id: str, note: str) -> TicketStatusChanged:
    return TicketStatusChanged(
        ticket_id=ticket_id, status="resolved", previous_status="open", resolution_note=note
    )


async def test_after_an_erasure_no_collection_holds_the_person(kb: Kb) -> None:
    tickets, routing = kb.settings.topics.tickets, kb.settings.topics.routing
    # Her password ticket is offered self-help and she says it solved it.
    await kb.send(opened("t-101", f"{NAME}: forgot my password", "How do I reset my password?"))
    await kb.send(routed("t-101", "account", "password"), routing)
    [offer] = kb.of(KbSelfHelpOffered)
    token = offer.link.rsplit("/", 1)[1]
    solved = await kb.http.post(f"/self-help/{token}/solved", json={"article_id": "password-reset"})
    assert solved.json()["deflected"] is True
    # Two resolution notes become drafts; an editor rewrites and publishes one.
    await kb.send(opened("t-102", f"VPN drops for {NAME}", "The VPN disconnects"))
    await kb.send(resolved("t-102", f"Told {NAME} ({PHONE}) to reinstall the client."), tickets)
    await kb.send(opened("t-103", f"Printer of {NAME}", "It jams"))
    await kb.send(resolved("t-103", f"Mailed {ADDRESS} a new driver."), tickets)
    lead = kb.auth("lead-technical")
    change = {
        "version": 1,
        "translations": {"en": {"title": "Printer driver", "body": "Install the new driver."}},
    }
    edited = await kb.http.patch("/editor/articles/from-t-103", json=change, headers=lead)
    assert edited.status_code == 200, edited.text
    published = await kb.http.post("/editor/articles/from-t-103/publish", headers=lead)
    assert published.json()["status"] == "published"
    # Someone else's ticket and draft.
    await kb.send(opened("t-201", "Boris Ivanov: printer", "It jams"))
    await kb.send(resolved("t-201", "Boris Ivanov replaced the toner."), tickets)
    for q in (
        f"{ADDRESS} password",
        "call me on 210 123 4567",
        "ANNA PETROVA account",
        f"chat {CHAT} closed",
        "Wi-Fi drops",
        "boris.ivanov@example.com",
    ):
        assert (await kb.http.get("/articles/search", params={"q": q})).status_code == 200
    assert {name for name, *_ in traces(await everything(kb))} >= {"tickets", "searches"}

    erasure = CustomerErased(
        customer_id="cu-anna",
        customer_ids=["cu-anna"],
        ticket_ids=["t-101", "t-102", "t-103"],
        identities=[f"email:{ADDRESS}", f"phone:{PHONE}", f"chat:{CHAT}", f"name:{NAME}"],
        requested_by="mgr-accounts",
    )
    await kb.send(erasure, kb.settings.topics.customers)

    after = await everything(kb)
    assert traces(after) == []
    assert kb.dead == []
    # Everyone else's data stays.
    assert [t["_id"] for t in after["tickets"]] == ["t-201"]
    assert after["tickets"][0]["subject"] == "Boris Ivanov: printer"
    queries = sorted(s["query"] for s in after["searches"])
    assert queries == ["Wi-Fi drops", "boris.ivanov@example.com"]
    articles = {a["_id"]: a for a in after["articles"]}
    assert "from-t-102" not in articles
    assert articles["from-t-201"]["source_ticket_id"] == "t-201"
    # The published article keeps the text its editor wrote, not the link to the ticket.
    kept = articles["from-t-103"]
    assert "source_ticket_id" not in kept or kept["source_ticket_id"] is None
    assert kept["translations"]["en"]["title"] == "Printer driver"
    versions = sorted(
        v["_id"] for v in after["article_versions"] if v["article_id"] != "from-t-201"
    )
    assert [v for v in versions if v.startswith("from-t-10")] == ["from-t-103:2", "from-t-103:3"]
    assert (await kb.http.get("/articles/from-t-103")).status_code == 200
    # The deflection stays counted, with nothing of her.
    deflection = next(d for d in after["deflections"] if d["_id"] == "t-101")
    assert set(deflection) == {"_id", "article_id", "at"}
    stats = {s["_id"]: s for s in after["article_stats"]}
    assert stats["password-reset"]["deflections"] == 1

    # A second delivery changes nothing.
    before = await everything(kb)
    await kb.send(erasure, kb.settings.topics.customers)
    assert await everything(kb) == before
