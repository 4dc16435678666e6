"""Mail threads into open tickets by headers, reference and marker; replies go out threaded."""

from __future__ import annotations

from typing import Any

from tests.conftest import eventually
from tests.handler.intake.support import Desk, mime, open_desk, rules_with


async def opened_by_mail(desk: Desk, raw: bytes) -> dict[str, Any]:
    before = len(desk.events("ticket.opened"))
    accepted = await desk.post_mail(raw)
    assert accepted.status_code == 202, accepted.text
    assert len(desk.events("ticket.opened")) == before + 1
    return desk.events("ticket.opened")[-1]


async def test_a_reply_threads_by_message_id_then_reference_then_body_marker(desk: Desk) -> None:
    first = await opened_by_mail(desk, mime(message_id="<first@mail.example>"))
    ticket_id, reference = first["ticket_id"], first["reference"]

    await desk.post_mail(
        mime(subject="Re: Wi-Fi", body="Still broken", In_Reply_To="<first@mail.example>")
    )
    await desk.post_mail(
        mime(sender="bob@example.com", subject=f"About [#{reference}]", body="Same here")
    )
    await desk.post_mail(
        mime(
            subject="new subject",
            body=f"More detail.\n\n> Reference: [#{reference}]. Please keep it",
        )
    )
    appended = desk.events("ticket.contact_appended", ticket_id)
    assert [a["matched_by"] for a in appended] == ["message-id", "reference", "marker"]
    assert all(a["customer_id"] == first["customer_id"] for a in appended)
    assert len(desk.events("ticket.opened")) == 1


async def test_an_agent_reply_is_mailed_with_the_reference_and_the_answer_threads_back(
    desk: Desk,
) -> None:
    first = await opened_by_mail(desk, mime(message_id="<q1@mail.example>"))
    ticket_id = first["ticket_id"]
    await desk.route(ticket_id)
    replied = await desk.act("ag-nika", ticket_id, "reply", {"body": "Please restart the router."})
    assert replied.status_code == 202

    sent = await eventually(lambda: desk.mail.messages)
    (reply,) = sent
    assert f"[#{first['reference']}]" in reply["Subject"]
    assert reply["To"] == "ana@example.com" and reply["In-Reply-To"] == "<q1@mail.example>"
    assert "Please restart the router." in reply.get_content()

    # The customer answers our mail with a client that drops the subject's reference.
    await desk.post_mail(
        mime(subject="thanks", body="Done, works now", In_Reply_To=reply["Message-ID"])
    )
    (appended,) = desk.events("ticket.contact_appended", ticket_id)
    assert appended["matched_by"] == "message-id"


async def test_a_reply_to_a_resolved_ticket_reopens_it_within_the_window(desk: Desk) -> None:
    first = await opened_by_mail(desk, mime(message_id="<r1@mail.example>"))
    ticket_id = first["ticket_id"]
    await desk.route(ticket_id)
    assert (await desk.act("ag-nika", ticket_id, "resolve", {"reason": "fixed"})).status_code == 202

    await desk.post_mail(
        mime(subject="Re: Wi-Fi", body="It broke again", In_Reply_To="<r1@mail.example>")
    )
    changes = [e["status"] for e in desk.events("ticket.status_changed", ticket_id)]
    assert changes == ["resolved", "reopened"]
    ticket = await desk.read(f"/tickets/{ticket_id}")
    assert ticket["status"] == "reopened"
    assert len(desk.events("ticket.opened")) == 1


async def test_after_the_window_a_reply_opens_a_new_ticket_linked_to_the_old(
    make_settings: Any, detector: Any, customer_mail: Any
) -> None:
    rules = rules_with(
        threading=rules_with().threading.model_copy(update={"reopen_window_days": 0})
    )
    async with open_desk(make_settings, detector, customer_mail, rules=rules) as desk:
        first = await opened_by_mail(desk, mime(message_id="<old@mail.example>"))
        await desk.route(first["ticket_id"])
        await desk.act("ag-nika", first["ticket_id"], "resolve", {"reason": "fixed"})

        second = await opened_by_mail(
            desk, mime(subject="Re: Wi-Fi", body="Broken again", In_Reply_To="<old@mail.example>")
        )
        assert second["follows_ticket_id"] == first["ticket_id"]
        assert second["ticket_id"] != first["ticket_id"]
