"""The right to erasure in intake: a manager's one call announces it, and intake (like every
service) removes what it keeps of the person; nothing of their address, name or phone remains."""

from __future__ import annotations

import json
from typing import Any

from tests.handler.intake.support import Desk, mime

ADDRESS = "erase.me@example.com"
NAME = "Erika Mustermann"
PHONE = "+302101234567"


async def everything_in(desk: Desk) -> str:
    """Every document of every collection of intake's database, as one text."""
    db = desk.service.db
    texts = []
    for name in await db.list_collection_names():
        texts.extend([json.dumps(doc, default=str) async for doc in db[name].find({})])
    return "\n".join(texts)


async def test_a_manager_erases_a_customer_and_no_trace_of_them_remains(desk: Desk) -> None:
    mail = mime(sender=f"{NAME} <{ADDRESS}>", subject="My account", body=f"Call me on {PHONE}")
    assert (await desk.post_mail(mail)).status_code == 202
    await desk.contact(
        {
            "channel": "chat",
            "chat_user_id": "w-77",
            "conversation_id": "cv-77",
            "email": ADDRESS,
            "display_name": NAME,
            "text": "Hello again",
        }
    )
    other = mime(sender="Someone Else <keep.me@example.com>", subject="Printer", body="jammed")
    await desk.post_mail(other)
    opened = desk.events("ticket.opened")
    for ticket in opened:
        await desk.route(ticket["ticket_id"])
    ours = [t for t in opened if "keep.me" not in json.dumps(t)]
    note = await desk.act("ag-nika", ours[0]["ticket_id"], "notes", {"body": f"{NAME} is upset"})
    assert note.status_code == 202
    before = await everything_in(desk)
    assert ADDRESS in before and NAME in before

    customer_id = ours[0]["customer_id"]
    refused = await desk.client.post(
        f"/customers/{customer_id}/erase", headers=desk.token("lead-technical")
    )
    assert refused.status_code == 403
    answer = await desk.client.post(
        f"/customers/{customer_id}/erase", headers=desk.token("mgr-accounts")
    )
    assert answer.status_code == 202, answer.text
    erased: dict[str, Any] = answer.json()
    assert erased["tickets"] >= 2

    after = await everything_in(desk)
    for trace in (ADDRESS, NAME, PHONE, "2101234567", "w-77"):
        assert trace not in after, trace
    assert "keep.me@example.com" in after  # other customers keep theirs
    ticket = await desk.read(f"/tickets/{ours[0]['ticket_id']}")
    assert ticket["erased"] and ticket["status"] == "open" and ticket["team"] == "technical"
    again = await desk.client.post(
        f"/customers/{customer_id}/erase", headers=desk.token("mgr-accounts")
    )
    assert again.status_code == 404


async def test_erasing_a_caller_removes_their_number_and_call_records(desk: Desk) -> None:
    await desk.contact({"channel": "phone", "caller_number": PHONE, "outcome": "missed"})
    (opened,) = desk.events("ticket.opened")
    await desk.route(opened["ticket_id"])
    assert PHONE in await everything_in(desk)
    answer = await desk.client.post(
        f"/customers/{opened['customer_id']}/erase", headers=desk.token("mgr-service-desk")
    )
    assert answer.status_code == 202
    assert PHONE not in await everything_in(desk)
    report = await desk.read("/reports/calls", "ops-rin")
    assert report["calls"] == 0
