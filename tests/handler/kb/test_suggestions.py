"""Suggestions for new tickets, self-help for configured categories, deflections, and drafts
from resolution notes."""

from __future__ import annotations

from typing import Any

from shared.events import (
    KbArticleChanged,
    KbDeflected,
    KbSelfHelpOffered,
    KbSuggested,
    TicketOpened,
    TicketRouted,
    TicketStatusChanged,
)
from tests.handler.kb.conftest import PUBLIC_URL, Kb


def opened(ticket_id: str, subject: str, body: str, **kw: Any) -> TicketOpened:
    return TicketOpened(
        ticket_id=ticket_id,
        reference="HD-AAAAAA",
        contact_id=f"c-{ticket_id}",
        customer_id="cu-1",
        channel="email",
        subject=subject,
        body=body,
        **kw,
    )


def routed(ticket_id: str, category: str, subcategory: str | None) -> TicketRouted:
    return TicketRouted(
        ticket_id=ticket_id,
        category=category,
        subcategory=subcategory,
        impact="low",
        urgency="medium",
        priority="P4",
        tier="L1",
        team="accounts",
        reason="classified",
    )


async def test_new_ticket_gets_suggestions_in_its_language_once(kb: Kb) -> None:
    ticket = opened("t-1", "Вай-фай", "Wi-Fi постоянно отключается, роутер перезагружал")
    await kb.send(ticket)
    await kb.send(ticket)

    suggested = kb.of(KbSuggested)
    assert len(suggested) == 1
    assert suggested[0].language == "ru"
    best = suggested[0].articles[0]
    assert (best.article_id, best.language) == ("wifi-drops", "ru")
    assert "<mark>" in (best.snippet or "")
    assert suggested[0].causation_id == str(ticket.event_id)


async def test_ticket_in_a_self_help_category_offers_its_customer_the_articles(kb: Kb) -> None:
    ticket = opened("t-2", "Forgot my password", "How do I reset my password? I cannot sign in")
    # Routing may be read before the ticket: the offer waits for both.
    await kb.send(routed("t-2", "account", "password"), kb.settings.topics.routing)
    assert kb.of(KbSelfHelpOffered) == []
    await kb.send(ticket)
    await kb.send(routed("t-2", "account", "password"), kb.settings.topics.routing)

    [offer] = kb.of(KbSelfHelpOffered)
    assert offer.ticket_id == "t-2" and offer.category == "account"
    assert offer.articles[0].article_id == "password-reset"
    assert offer.link.startswith(f"{PUBLIC_URL}/self-help/")
    token = offer.link.rsplit("/", 1)[1]

    page = await kb.http.get(f"/self-help/{token}")
    assert page.status_code == 200
    assert page.json()["articles"][0]["title"] == "How to reset your password"

    answer = await kb.http.post(f"/self-help/{token}/solved", json={"article_id": "password-reset"})
    assert answer.json() == {"ticket_id": "t-2", "deflected": True}
    again = await kb.http.post(f"/self-help/{token}/solved", json={"article_id": "password-reset"})
    assert again.json()["deflected"] is False
    [deflected] = kb.of(KbDeflected)
    assert (deflected.ticket_id, deflected.article_id) == ("t-2", "password-reset")

    report = await kb.http.get("/reports/articles", headers=kb.auth("mgr-accounts"))
    assert report.status_code == 200, report.text
    row = next(r for r in report.json() if r["article_id"] == "password-reset")
    assert (row["deflections"], row["helpful"], row["offered"]) == (1, 1, 1)


async def test_other_categories_and_bad_links_get_no_self_help(kb: Kb) -> None:
    await kb.send(opened("t-3", "Printer jams", "The office printer jams on every page"))
    await kb.send(routed("t-3", "hardware", "printer"), kb.settings.topics.routing)
    assert kb.of(KbSelfHelpOffered) == []

    forged = await kb.http.get("/self-help/not-a-token")
    assert forged.status_code == 401
    # An agent's token is not a self-help link.
    agents = await kb.http.get(f"/self-help/{kb.token('ag-john')}")
    assert agents.status_code == 401


async def test_solving_with_an_article_not_offered_is_refused(kb: Kb) -> None:
    await kb.send(opened("t-4", "Reset password", "I forgot my password and cannot log in"))
    await kb.send(routed("t-4", "account", "password"), kb.settings.topics.routing)
    [offer] = kb.of(KbSelfHelpOffered)
    token = offer.link.rsplit("/", 1)[1]
    answer = await kb.http.post(f"/self-help/{token}/solved", json={"article_id": "wifi-drops"})
    assert answer.status_code == 404
    assert kb.of(KbDeflected) == []


async def test_resolution_note_becomes_a_draft_article_for_review(kb: Kb) -> None:
    await kb.send(opened("t-5", "VPN drops after sleep", "The VPN client disconnects"))
    resolved = TicketStatusChanged(
        ticket_id="t-5",
        status="resolved",
        previous_status="open",
        agent_id="ag-sergei",
        resolution_note="Turn off 'Allow the computer to turn off this device' for the adapter.",
    )
    await kb.send(resolved)
    await kb.send(resolved)
    plain = TicketStatusChanged(ticket_id="t-6", status="resolved", previous_status="open")
    await kb.send(plain)

    draft = await kb.http.get("/editor/articles/from-t-5", headers=kb.auth("ag-maria"))
    assert draft.status_code == 200
    body = draft.json()
    assert body["status"] == "draft" and body["source_ticket_id"] == "t-5"
    assert body["translations"]["en"]["title"] == "VPN drops after sleep"
    assert "turn off this device" in body["translations"]["en"]["body"]
    assert [e.article_id for e in kb.of(KbArticleChanged)] == ["from-t-5"]
    # A draft is not for customers until an editor publishes it.
    found = await kb.http.get("/articles/search", params={"q": "adapter", "language": "en"})
    assert found.json()["results"] == []
    none = await kb.http.get("/editor/articles/from-t-6", headers=kb.auth("ag-maria"))
    assert none.status_code == 404


async def test_unparseable_ticket_event_goes_to_dead_letter(kb: Kb) -> None:
    await kb.broker.publish(
        {"event_type": "ticket.opened", "ticket_id": 5}, kb.settings.topics.tickets
    )
    await kb.broker.publish(b"not json at all", kb.settings.topics.tickets)

    assert len(kb.dead) == 2
    assert kb.dead[0]["reason"].startswith("invalid message")
    assert kb.dead[1]["original_value"] == "not json at all"
