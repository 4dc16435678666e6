"""Self-help: offers mailed to email customers once, deflected tickets resolved once, and the
resolution note an agent leaves on resolve."""

from __future__ import annotations

import uuid
from typing import Any

from services.intake.store import MongoIntakeStore
from shared.events import ArticleMatch, Event, KbDeflected, KbSelfHelpOffered, TicketStatusChanged
from shared.ids import derived_id
from tests.conftest import eventually
from tests.handler.intake.support import Desk, mime

CHAT = {"channel": "chat", "chat_user_id": "w-1", "text": "My router is down since this morning"}
PERSIAN_SUBJECT = "اینترنت خانه قطع می‌شود"
PERSIAN_BODY = (
    "سلام، از دیروز اینترنت خانه هر چند دقیقه یک بار قطع می‌شود و مودم را چند بار "
    "خاموش و روشن کردم ولی درست نشد. لطفاً راهنمایی کنید."
)
LINK = "https://help.example/self-help/abc?token=t0k3n"


async def send(desk: Desk, event: Event) -> None:
    await desk.broker.publish(event.model_dump(mode="json"), desk.settings.topics.kb)


def offer_for(opened: dict[str, Any], language: str, *titles: str) -> KbSelfHelpOffered:
    return KbSelfHelpOffered(
        ticket_id=opened["ticket_id"],
        reference=opened["reference"],
        language=language,
        category="network",
        articles=[
            ArticleMatch(article_id=f"kb-{n}", title=title, language=language, score=2.5 - n)
            for n, title in enumerate(titles)
        ],
        link=LINK,
    )


async def chat_ticket(desk: Desk) -> dict[str, Any]:
    await desk.contact({**CHAT, "conversation_id": uuid.uuid4().hex})
    return desk.events("ticket.opened")[-1]


async def test_resolve_carries_the_resolution_note_and_only_resolve_takes_one(desk: Desk) -> None:
    opened = await chat_ticket(desk)
    ticket_id = opened["ticket_id"]
    await desk.route(ticket_id)
    note = "Replaced the modem's power supply; the drops stopped."
    pending = await desk.act(
        "ag-nika", ticket_id, "pending", {"reason": "asked", "resolution_note": "not here"}
    )
    assert pending.status_code == 202
    too_long = await desk.act(
        "ag-nika", ticket_id, "resolve", {"reason": "fixed", "resolution_note": "x" * 20_001}
    )
    assert too_long.status_code == 422
    resolved = await desk.act(
        "ag-nika", ticket_id, "resolve", {"reason": "fixed", "resolution_note": note}
    )
    assert resolved.status_code == 202, resolved.text

    changes = desk.events("ticket.status_changed", ticket_id)
    assert [(c["status"], c["resolution_note"]) for c in changes] == [
        ("pending", None),
        ("resolved", note),
    ]
    assert changes[1]["event_id"] == resolved.json()["event_id"]
    assert changes[1]["reason"] == "fixed"


async def test_an_email_ticket_gets_one_threaded_offer_in_its_language(desk: Desk) -> None:
    accepted = await desk.post_mail(
        mime(subject=PERSIAN_SUBJECT, body=PERSIAN_BODY, message_id="<fa1@mail.example>")
    )
    assert accepted.status_code == 202, accepted.text
    opened = desk.events("ticket.opened")[-1]
    assert opened["language"] == "fa"
    titles = ("راه‌اندازی دوبارهٔ مودم", "بررسی کابل تلفن")
    offer = offer_for(opened, "fa", *titles)

    await send(desk, offer)
    await send(desk, offer)  # redelivered

    (mail,) = await eventually(lambda: desk.mail.messages)
    assert mail["To"] == "ana@example.com"
    assert mail["Subject"] == f"Re: {PERSIAN_SUBJECT} [#{opened['reference']}]"
    assert mail["In-Reply-To"] == mail["References"] == "<fa1@mail.example>"
    assert str(derived_id("self-help-mail", offer.event_id)) in mail["Message-ID"]
    assert mail.get_content_type() == "text/plain"
    body = mail.get_content()
    assert f"1. {titles[0]}" in body and f"2. {titles[1]}" in body
    assert LINK in body and "مشکلم حل شد" in body
    assert len(desk.mail.messages) == 1
    assert desk.letters == []

    # The customer answers the offer: it threads by its Message-ID.
    await desk.post_mail(
        mime(subject="thanks", body="Still broken", In_Reply_To=mail["Message-ID"])
    )
    (appended,) = desk.events("ticket.contact_appended", opened["ticket_id"])
    assert appended["matched_by"] == "message-id"


async def test_a_chat_ticket_gets_no_mail_and_other_kb_events_are_ignored(desk: Desk) -> None:
    opened = await chat_ticket(desk)
    await send(desk, offer_for(opened, "en", "Restart your router"))
    await desk.broker.publish(
        {"event_type": "kb.something_new", "event_id": str(uuid.uuid4()), "whatever": 1},
        desk.settings.topics.kb,
    )
    await desk.broker.publish(
        {"event_type": "kb.suggested", "ticket_id": opened["ticket_id"], "articles": []},
        desk.settings.topics.kb,
    )
    assert desk.mail.messages == []
    assert desk.letters == []
    assert len(desk.published) == 1  # the ticket's opening, nothing since


async def test_a_deflection_resolves_an_open_ticket_exactly_once(desk: Desk) -> None:
    opened = await chat_ticket(desk)
    ticket_id = opened["ticket_id"]
    deflected = KbDeflected(ticket_id=ticket_id, article_id="kb-7", language="en")

    await send(desk, deflected)
    await send(desk, deflected)  # redelivered
    await send(desk, KbDeflected(ticket_id=ticket_id, article_id="kb-8"))  # answered twice

    (resolved,) = desk.events("ticket.status_changed", ticket_id)
    assert resolved["event_id"] == str(derived_id(deflected.event_id, "deflected-resolve"))
    assert resolved["causation_id"] == str(deflected.event_id)
    assert (resolved["status"], resolved["previous_status"]) == ("resolved", "open")
    assert resolved["agent_id"] is None
    assert resolved["reason"] == "solved by self-help article kb-7"
    assert resolved["customer_id"] == opened["customer_id"]
    await desk.route(ticket_id)
    ticket = await desk.read(f"/tickets/{ticket_id}")
    assert ticket["status"] == "resolved"
    assert [h["event_id"] for h in ticket["history"]].count(resolved["event_id"]) == 1


async def test_a_deflection_of_a_ticket_an_agent_resolved_publishes_nothing(desk: Desk) -> None:
    opened = await chat_ticket(desk)
    ticket_id = opened["ticket_id"]
    await desk.route(ticket_id)
    assert (await desk.act("ag-nika", ticket_id, "resolve", {})).status_code == 202

    await send(desk, KbDeflected(ticket_id=ticket_id, article_id="kb-7"))
    assert [e["agent_id"] for e in desk.events("ticket.status_changed", ticket_id)] == ["ag-nika"]


async def test_a_deflection_that_resolved_the_ticket_before_a_crash_is_published(
    desk: Desk,
) -> None:
    opened = await chat_ticket(desk)
    ticket_id = opened["ticket_id"]
    deflected = KbDeflected(ticket_id=ticket_id, article_id="kb-7")
    # What a first delivery left behind when it stopped before publishing.
    store = MongoIntakeStore(desk.service.mongo[desk.settings.database_name])
    claimed = deflected.caused(
        TicketStatusChanged,
        "deflected-resolve",
        customer_id=opened["customer_id"],
        status="resolved",
        previous_status="open",
        reason="solved by self-help article kb-7",
    )
    # The status and its history entry are one conditional write: neither exists alone.
    assert await store.transition(ticket_id, "open", "resolved", claimed)
    assert not await store.transition(ticket_id, "resolved", "resolved", claimed)
    ticket = await store.ticket(ticket_id)
    assert ticket is not None and ticket["status"] == "resolved"
    entries = [h for h in ticket["history"] if h["event_id"] == str(claimed.event_id)]
    assert len(entries) == 1

    await send(desk, deflected)
    (resolved,) = desk.events("ticket.status_changed", ticket_id)
    assert resolved["event_id"] == str(claimed.event_id)


async def test_a_deflection_of_an_unknown_ticket_is_dead_lettered(desk: Desk) -> None:
    await send(desk, KbDeflected(ticket_id="no-such-ticket", article_id="kb-7"))
    (letter,) = desk.letters
    assert letter["source_topic"] == desk.settings.topics.kb
    assert letter["reason"].startswith("PermanentError: no ticket no-such-ticket")
    assert letter["attempts"] == 1
    assert desk.events("ticket.status_changed") == []
