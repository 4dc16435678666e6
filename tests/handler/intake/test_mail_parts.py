"""Raw mail through the gateway: the ticket events carry the new text as the body and the
quoted earlier mail and the signature beside it, for a new ticket and for a reply on one."""

from __future__ import annotations

from tests.handler.intake.support import Desk, mime

REPLY = (
    "Still no connection after the restart.\n\n"
    "-- \nAna Silva\nACME Ltd\n\n"
    "On Mon, 3 Nov 2026 at 10:15, Help desk <support@helpdesk.example> wrote:\n"
    "> Please restart the router.\n"
)


async def test_the_gateways_split_reaches_the_ticket_events(desk: Desk) -> None:
    first = await desk.post_mail(mime(body=REPLY, message_id="<parts-1@mail.example>"))
    assert first.status_code == 202, first.text
    (opened,) = desk.events("ticket.opened")
    assert opened["body"] == "Still no connection after the restart."
    assert "Ana Silva" in opened["signature"] and "ACME Ltd" in opened["signature"]
    assert "Please restart the router." in opened["quoted_text"]
    assert "restart the router" not in opened["match_text"]

    reply = mime(
        subject=f"Re: Wi-Fi keeps dropping [#{opened['reference']}]",
        body="Sent the photo.\n\nSent from my iPhone\n\n> On Mon, Help desk wrote:\n> Photo?",
    )
    assert (await desk.post_mail(reply)).status_code == 202
    (appended,) = desk.events("ticket.contact_appended")
    assert appended["body"] == "Sent the photo."
    assert appended["signature"] == "Sent from my iPhone"
    assert "Photo?" in appended["quoted_text"]
