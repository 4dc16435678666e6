"""Adapters' HTTP API: signed contacts, raw mail with attachments, automatic mail suppressed."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage as Mime
from typing import Any

from devstack.stack import free_port
from tests.conftest import eventually
from tests.handler.intake.support import Desk, mime, open_desk

CALL = {
    "contact_id": "call-1",
    "message": {"channel": "phone", "caller_number": "+30 210 123 4567"},
}


async def test_a_signed_contact_is_accepted_and_a_bad_signature_refused(desk: Desk) -> None:
    accepted = await desk.post_contact(CALL)
    assert accepted.status_code == 202
    assert desk.events("ticket.opened")[0]["ticket_id"] == accepted.json()["ticket_id"]

    forged = await desk.post_contact(CALL, secret="guess")
    assert forged.status_code == 401 and "signature does not match" in forged.json()["detail"]
    unsigned = await desk.client.post("/contacts", json=CALL)
    assert unsigned.status_code == 401 and "missing header" in unsigned.json()["detail"]


async def test_bad_contacts_get_a_4xx_that_says_what_is_wrong(desk: Desk) -> None:
    fax = await desk.post_contact({"contact_id": "x", "message": {"channel": "fax"}})
    assert fax.status_code == 422 and fax.json()["detail"][0]["type"] == "unknown_channel"
    phone = await desk.post_contact(
        {"contact_id": "x", "message": {"channel": "phone", "caller_number": "abc"}}
    )
    assert phone.json()["detail"][0]["type"] == "invalid_phone"
    empty = await desk.post_contact(
        {
            "contact_id": "x",
            "message": {"channel": "chat", "chat_user_id": "u", "conversation_id": "c"},
        }
    )
    assert empty.json()["detail"][0]["type"] == "empty_contact"
    assert desk.published == []


async def test_raw_mail_keeps_its_attachments_and_auto_replies_open_nothing(desk: Desk) -> None:
    message = Mime()
    message["From"] = "Ana <ana@example.com>"
    message["To"] = "support@helpdesk.example"
    message["Subject"] = "Invoice is wrong"
    message.set_content("The attached invoice charges me twice.")
    message.add_attachment(
        b"%PDF-1.4 invoice", maintype="application", subtype="pdf", filename="invoice.pdf"
    )
    accepted = await desk.post_mail(message.as_bytes())
    assert accepted.status_code == 202, accepted.text

    (opened,) = desk.events("ticket.opened")
    (attachment,) = opened["attachments"]
    assert attachment["filename"] == "invoice.pdf" and attachment["size"] == 16
    assert attachment["stored_id"]
    files = desk.service.db["attachments.files"]
    assert await files.count_documents({"filename": "invoice.pdf"}) == 1

    away = await desk.post_mail(mime(subject="Out of Office", Auto_Submitted="auto-replied"))
    assert away.status_code == 202 and away.json()["suppressed"].startswith("auto_reply")
    assert await desk.service.db["suppressed_mail"].count_documents({"kind": "auto_reply"}) == 1
    assert len(desk.events("ticket.opened")) == 1


async def test_the_openapi_document_lists_the_adapter_and_agent_endpoints(desk: Desk) -> None:
    paths = (await desk.client.get("/openapi.json")).json()["paths"]
    for path in (
        "/contacts",
        "/contacts/email",
        "/tickets/{ticket_id}/reply",
        "/customers/{customer_id}",
    ):
        assert path in paths


async def test_mail_sent_to_the_smtp_server_opens_a_ticket(
    make_settings: Any, detector: Any, customer_mail: Any
) -> None:
    port = free_port()
    async with open_desk(make_settings, detector, customer_mail, smtp_listen_port=port) as desk:
        for hook in desk.service.after_start:
            await hook()
        try:
            greek = mime(
                sender="eleni@example.gr",
                subject="Δεν έχω ίντερνετ",
                body="Καλημέρα, από χθες δεν λειτουργεί η σύνδεση.",
            )
            await asyncio.to_thread(
                send, port, "eleni@example.gr", "support@helpdesk.example", greek
            )
            refused = await asyncio.to_thread(
                send, port, "eleni@example.gr", "sales@helpdesk.example", greek
            )
            opened = await eventually(lambda: desk.events("ticket.opened"))
        finally:
            for hook in reversed(desk.service.on_stop):
                await hook()
    assert refused == 550
    (ticket,) = opened
    assert ticket["language"] == "el" and ticket["subject"] == "Δεν έχω ίντερνετ"


def send(port: int, sender: str, recipient: str, raw: bytes) -> int:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        try:
            client.sendmail(sender, [recipient], raw)
        except smtplib.SMTPRecipientsRefused as exc:
            return int(exc.recipients[recipient][0])
    return 250
