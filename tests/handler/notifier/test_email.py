"""The notifier's email consumer through TestKafkaBroker and a real SMTP server."""

from __future__ import annotations

import json
from typing import Any

from faststream.kafka import TestKafkaBroker

from devstack.stack import free_port
from shared.events import (
    NotificationDelivered,
    NotificationEvent,
    NotificationFailed,
    SlaWarning,
)
from shared.ids import ticket_reference
from tests.handler.notifier.support import Mailbox, capture_into, make_breach, start_notifier


async def test_first_response_breach_emails_the_agent_once(
    make_settings: Any, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    service, settings = await start_notifier(make_settings, smtp_port=port)
    outcomes: list[NotificationEvent] = []
    capture_into(service, settings.topics.notifications, outcomes)
    breach = make_breach()

    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(breach.model_dump(mode="json"), settings.topics.sla)
        await broker.publish(breach.model_dump(mode="json"), settings.topics.sla)

    assert [e.rcpt_tos for e in mailbox.envelopes] == [["nika@helpdesk.example"]]
    assert mailbox.envelopes[0].mail_from == "helpdesk@helpdesk.example"
    [subject] = mailbox.subjects()
    assert subject.startswith(f"[{ticket_reference('t-1001')}] First response overdue")
    assert subject.startswith("[HD-")
    [delivered] = outcomes
    assert isinstance(delivered, NotificationDelivered)
    assert (delivered.recipient, delivered.channel, delivered.address, delivered.attempts) == (
        "ag-nika",
        "email",
        "nika@helpdesk.example",
        1,
    )
    assert delivered.cause_event_id == str(breach.event_id)
    assert delivered.causation_id == str(breach.event_id)
    assert delivered.ticket_id == "t-1001" and delivered.correlation_id == "c-1"
    [logged] = await service.db["deliveries"].find({}).to_list()
    assert logged["_id"] == f"{breach.event_id}:ag-nika:email"
    assert logged["status"] == "sent"
    await service.mongo.close()


async def test_breach_already_sent_is_not_emailed_again_after_a_crash(
    make_settings: Any, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    service, settings = await start_notifier(make_settings, smtp_port=port)
    outcomes: list[NotificationEvent] = []
    capture_into(service, settings.topics.notifications, outcomes)
    breach = make_breach()

    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(breach.model_dump(mode="json"), settings.topics.sla)
        # As if the handler had died after sending but before marking the event processed.
        await service.db["processed_events"].delete_many({})
        await broker.publish(breach.model_dump(mode="json"), settings.topics.sla)

    assert len(mailbox.envelopes) == 1
    assert len(outcomes) == 2
    assert outcomes[0].event_id == outcomes[1].event_id
    await service.mongo.close()


async def test_resolution_breach_emails_the_team_manager(
    make_settings: Any, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    service, settings = await start_notifier(make_settings, smtp_port=port)
    outcomes: list[NotificationEvent] = []
    capture_into(service, settings.topics.notifications, outcomes)

    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(make_breach("resolution").model_dump(mode="json"), settings.topics.sla)

    assert [e.rcpt_tos for e in mailbox.envelopes] == [["eleni.manager@helpdesk.example"]]
    assert mailbox.subjects()[0].startswith(f"[{ticket_reference('t-1001')}] Resolution overdue")
    assert [(o.recipient, o.event_type) for o in outcomes] == [
        ("mgr-technical", "notification.delivered")
    ]
    await service.mongo.close()


async def test_smtp_down_reports_failure_after_retries_without_dead_letter(
    make_settings: Any,
) -> None:
    service, settings = await start_notifier(make_settings, smtp_port=free_port(), smtp_attempts=3)
    outcomes: list[NotificationEvent] = []
    letters: list[dict[str, Any]] = []
    capture_into(service, settings.topics.notifications, outcomes)
    capture_into(service, settings.topics.deadletter, letters, raw=True)

    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(make_breach().model_dump(mode="json"), settings.topics.sla)

    [failed] = outcomes
    assert isinstance(failed, NotificationFailed)
    assert (failed.recipient, failed.channel, failed.attempts) == ("ag-nika", "email", 3)
    assert failed.error
    assert letters == []
    [logged] = await service.db["deliveries"].find({}).to_list()
    assert (logged["status"], logged["attempts"]) == ("failed", 3)
    await service.mongo.close()


async def test_breach_for_nobody_in_the_directory_is_dead_lettered_with_its_reason(
    make_settings: Any, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    service, settings = await start_notifier(make_settings, smtp_port=port)
    outcomes: list[NotificationEvent] = []
    letters: list[dict[str, Any]] = []
    capture_into(service, settings.topics.notifications, outcomes)
    capture_into(service, settings.topics.deadletter, letters, raw=True)
    breach = make_breach("next_reply", ticket_id="t-77", team="nobody", assignee_id="ag-ghost")

    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(breach.model_dump(mode="json"), settings.topics.sla)

    # One letter, from the shared email consumer; the per-replica push consumer stays quiet.
    [letter] = letters
    assert letter["error_type"] == "PermanentError"
    assert letter["consumer_group"] == settings.consumer_group
    assert letter["source_topic"] == settings.topics.sla
    for part in ("next_reply", "t-77", "'nobody'", "'ag-ghost'", "no recipient"):
        assert part in letter["reason"]
    assert json.loads(letter["original_value"])["event_id"] == str(breach.event_id)
    assert mailbox.envelopes == [] and outcomes == []
    assert not await service.db["processed_events"].find_one({})
    await service.mongo.close()


def _warning(prompt: str | None, level: int) -> SlaWarning:
    breach = make_breach("resolution")
    return SlaWarning(
        ticket_id=breach.ticket_id,
        correlation_id=breach.correlation_id,
        metric="resolution",
        team=breach.team,
        assignee_id=breach.assignee_id,
        priority=breach.priority,
        level_percent=level,
        due_at=breach.due_at,
        remaining_seconds=4 * 3600,
        prompt=prompt,
    )


async def test_a_call_customer_prompt_emails_the_agent_and_a_plain_warning_emails_nobody(
    make_settings: Any, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    service, settings = await start_notifier(make_settings, smtp_port=port)
    prompt, plain = _warning("call_customer", 50), _warning(None, 75)

    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(plain.model_dump(mode="json"), settings.topics.sla)
        await broker.publish(prompt.model_dump(mode="json"), settings.topics.sla)

    assert [e.rcpt_tos for e in mailbox.envelopes] == [["nika@helpdesk.example"]]
    [subject] = mailbox.subjects()
    assert subject == f"[{ticket_reference('t-1001')}] Still open: please phone the customer"
    body = mailbox.envelopes[0].content
    assert isinstance(body, bytes) and b"4 h (business time)" in body
    await service.mongo.close()
