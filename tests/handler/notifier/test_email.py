"""Email through the outbox: TestKafkaBroker in, a real SMTP server out, the delivery log."""

from __future__ import annotations

import json
from typing import Any

import httpx
from aiosmtpd.smtp import SMTP, Envelope, Session

from devstack.stack import free_port
from shared.events import NotificationDelivered, NotificationFailed
from shared.ids import ticket_reference
from tests.conftest import eventually, serving_smtp
from tests.handler.notifier.support import (
    Mailbox,
    bearer,
    capture_into,
    make_breach,
    running,
    served,
    start_notifier,
)


def _outcomes(events: list[Any]) -> list[NotificationDelivered | NotificationFailed]:
    return [e for e in events if isinstance(e, NotificationDelivered | NotificationFailed)]


async def test_first_response_breach_emails_the_assignee_once_and_logs_the_delivery(
    make_settings: Any, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    service, settings = await start_notifier(make_settings, smtp_port=port)
    events: list[Any] = []
    capture_into(service, settings.topics.notifications, events)
    breach = make_breach()
    key = f"{breach.event_id}:ag-nika:email"

    async with running(service) as broker, served(service) as http_port:
        await broker.publish(breach.model_dump(mode="json"), settings.topics.sla)
        await broker.publish(breach.model_dump(mode="json"), settings.topics.sla)
        await eventually(lambda: _outcomes(events))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as client:

            async def settled() -> httpx.Response | None:
                # The delivery log is service-wide: an operator's. The outcome is published
                # before the job is settled, so the log may lag the event by a moment.
                found = await client.get(
                    "/deliveries", params={"ticket_id": "t-1001"}, headers=bearer("ops-rin")
                )
                emails = [job for job in found.json() if job["channel"] == "email"]
                return found if emails and emails[0]["status"] != "leased" else None

            answer = await eventually(settled)

    assert mailbox.recipients() == ["nika@helpdesk.example"]
    assert mailbox.envelopes[0].mail_from == "helpdesk@helpdesk.example"
    [mail] = mailbox.messages()
    assert str(mail["Subject"]).startswith(f"[{ticket_reference('t-1001')}] ")
    assert mail.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in mail.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    [delivered] = _outcomes(events)
    assert isinstance(delivered, NotificationDelivered)
    assert (delivered.recipient, delivered.channel, delivered.address, delivered.attempts) == (
        "ag-nika",
        "email",
        "nika@helpdesk.example",
        1,
    )
    assert delivered.cause_event_id == str(breach.event_id)
    assert delivered.ticket_id == "t-1001"
    assert answer.status_code == 200
    [logged] = [job for job in answer.json() if job["channel"] == "email"]
    assert (logged["key"], logged["status"], logged["attempts"]) == (key, "sent", 1)
    assert [attempt["outcome"] for attempt in logged["log"]] == ["sent"]
    [stored] = await service.db["deliveries"].find({}).to_list()
    assert (stored["_id"], stored["status"], len(stored["log"])) == (key, "sent", 1)
    await service.mongo.close()


async def test_resolution_breach_emails_the_team_manager(
    make_settings: Any, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    service, settings = await start_notifier(make_settings, smtp_port=port)
    events: list[Any] = []
    capture_into(service, settings.topics.notifications, events)

    async with running(service) as broker:
        await broker.publish(make_breach("resolution").model_dump(mode="json"), settings.topics.sla)
        await eventually(lambda: _outcomes(events))

    assert mailbox.recipients() == ["eleni.manager@helpdesk.example"]
    assert mailbox.subjects()[0].startswith(f"[{ticket_reference('t-1001')}] ")
    assert [(o.recipient, o.event_type) for o in _outcomes(events)] == [
        ("mgr-technical", "notification.delivered")
    ]
    await service.mongo.close()


async def test_smtp_down_retries_then_fails_and_dead_letters_the_message(
    make_settings: Any,
) -> None:
    service, settings = await start_notifier(make_settings, smtp_port=free_port(), email_attempts=3)
    events: list[Any] = []
    letters: list[dict[str, Any]] = []
    capture_into(service, settings.topics.notifications, events)
    capture_into(service, settings.topics.deadletter, letters, raw=True)
    breach = make_breach()

    async with running(service) as broker:
        await broker.publish(breach.model_dump(mode="json"), settings.topics.sla)
        await eventually(lambda: letters, timeout=15)

        async def settled() -> bool:
            # The dead letter goes out before the job is settled: wait for the log.
            return await service.db["deliveries"].count_documents({"status": "failed"}) == 1

        await eventually(settled)

    [failed] = _outcomes(events)
    assert isinstance(failed, NotificationFailed)
    assert (failed.recipient, failed.channel, failed.attempts) == ("ag-nika", "email", 3)
    assert failed.error
    [letter] = letters
    for part in ("email", "ag-nika", "3 tries", failed.error):
        assert part in letter["reason"]
    assert letter["attempts"] == 3
    assert json.loads(letter["original_value"])["key"] == f"{breach.event_id}:ag-nika:email"
    [stored] = await service.db["deliveries"].find({}).to_list()
    assert (stored["status"], stored["attempts"]) == ("failed", 3)
    assert [a["outcome"] for a in stored["log"]] == ["retry", "retry", "failed"]
    # Backoff: each retry was scheduled after the try before it.
    times = [a["at"] for a in stored["log"]]
    assert times == sorted(times) and times[0] < times[-1]
    await service.mongo.close()


class RefusingMailbox(Mailbox):
    """A relay that knows no such mailbox: 550 is final, a retry gets the same answer."""

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        return "550 5.1.1 no such mailbox"


async def test_a_mailbox_the_relay_refuses_fails_at_the_first_try(make_settings: Any) -> None:
    mailbox = RefusingMailbox()
    with serving_smtp(mailbox) as port:
        service, settings = await start_notifier(make_settings, smtp_port=port, email_attempts=3)
        events: list[Any] = []
        capture_into(service, settings.topics.notifications, events)
        async with running(service) as broker:
            await broker.publish(make_breach().model_dump(mode="json"), settings.topics.sla)
            await eventually(lambda: _outcomes(events), timeout=15)
    await service.mongo.close()

    [failed] = _outcomes(events)
    assert isinstance(failed, NotificationFailed)
    assert "550" in failed.error
    assert failed.attempts == 1
