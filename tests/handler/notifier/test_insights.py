"""The insights service's events through the notifier: TestKafkaBroker in, a real SMTP server
out. Signs of poor service reach a team's lead (else its manager) in their language once, a kind
switched off reaches nobody, and a monthly report reaches its manager with its category tree."""

from __future__ import annotations

import shutil
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import yaml

from shared.clock import FakeClock
from shared.events import (
    CategoryLine,
    MonthlyReportReady,
    NotificationPushed,
    SignalRaised,
    SurveyOffered,
)
from shared.ids import derived_id, ticket_reference
from shared.runtime import Service
from tests.conftest import ROOT, eventually
from tests.handler.notifier.support import DUE, Mailbox, capture_into, running, start_notifier

#: Monday 5 January 2026, 11:00 in Athens, 12:30 in Tehran: everybody's working hours.
MONDAY = DUE + timedelta(seconds=5)
IVAN, SARA, ELENI = (
    "ivan.lead@helpdesk.example",
    "sara.manager@helpdesk.example",
    "eleni.manager@helpdesk.example",
)


def low_csat(**fields: Any) -> SignalRaised:
    values: dict[str, Any] = {
        "subject": "t-501",
        "ticket_id": "t-501",
        "kind": "low_csat",
        "team": "technical",
        "agent_id": "ag-sergei",
        "reference": ticket_reference("t-501"),
        "value": 1,
        "threshold": 2,
        "detail": "scored 1: 'still no internet after three calls'",
        "occurred_at": MONDAY,
    }
    return SignalRaised(**(values | fields))


def body(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


async def all_sent(service: Service, count: int) -> bool:
    """The outcome of a delivery is published before its job is settled: wait for the log."""
    jobs = await service.db["deliveries"].find({}).to_list()
    return len(jobs) == count and all(job["status"] == "sent" for job in jobs)


def pushes(events: list[Any]) -> list[NotificationPushed]:
    return [e for e in events if isinstance(e, NotificationPushed)]


async def test_a_low_csat_sign_mails_the_technical_lead_in_russian_once_when_redelivered(
    make_settings: Any, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    service, settings = await start_notifier(make_settings, clock=FakeClock(MONDAY), smtp_port=port)
    events: list[Any] = []
    capture_into(service, settings.topics.notifications, events)
    signal = low_csat()

    async with running(service) as broker:
        await broker.publish(signal.model_dump(mode="json"), settings.topics.insights)
        await broker.publish(signal.model_dump(mode="json"), settings.topics.insights)
        await eventually(lambda: mailbox.envelopes)
        await eventually(lambda: all_sent(service, 1))

    assert mailbox.recipients() == [IVAN]
    [mail] = mailbox.messages()
    reference = ticket_reference("t-501")
    assert mail["Subject"] == f"[{reference}] Повод для коучинга: низкая оценка удовлетворённости"
    assert mail["Content-Language"] == "ru"
    text = body(mail)
    for part in (
        "Здравствуйте, Ivan Petrov!",
        "уведомление для коучинга",
        "клиенту оно никогда не показывается",
        f"{reference} (t-501)",
        "Sergei Volkov (ag-sergei)",
        "1 из 5",
        "2 из 5",
        "still no internet after three calls",
    ):
        assert part in text, part
    [job] = await service.db["deliveries"].find({}).to_list()
    assert job["_id"] == f"{signal.event_id}:lead-technical:email"
    # The console push went to the lead alone, under one id however often it was decided.
    assert {(p.event_id, tuple(p.recipients), p.kind) for p in pushes(events)} == {
        (derived_id(signal.event_id, "push", 0), ("lead-technical",), "signal")
    }
    await service.mongo.close()


async def test_a_sign_for_a_team_without_a_lead_goes_to_its_manager(
    make_settings: Any, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    service, settings = await start_notifier(make_settings, clock=FakeClock(MONDAY), smtp_port=port)
    # About an agent, not a ticket: their team is found in the directory.
    signal = SignalRaised(
        subject="ag-john",
        kind="reply_wait",
        agent_id="ag-john",
        value=9 * 3600,
        threshold=8 * 3600,
        detail="three customers waited past the threshold this week",
        occurred_at=MONDAY,
    )

    async with running(service) as broker:
        await broker.publish(signal.model_dump(mode="json"), settings.topics.insights)
        await eventually(lambda: mailbox.envelopes)
        await eventually(lambda: all_sent(service, 1))

    assert mailbox.recipients() == [SARA]
    [mail] = mailbox.messages()
    assert mail["Content-Language"] == "fa"
    assert str(mail["Subject"]) == "اعلان مربیگری: انتظار طولانی برای پاسخ — John Carter"
    text = body(mail)
    for part in ("سلام Sara Rahimi،", "اعلان مربیگری", "John Carter (ag-john)", "۹ ساعت", "۸ ساعت"):
        assert part in text, part
    await service.mongo.close()


def _rules_with(folder: Path, **sections: Any) -> Path:
    shutil.copytree(ROOT / "config", folder)
    rules = yaml.safe_load((folder / "notifier.yaml").read_text(encoding="utf-8"))
    rules.update(sections)
    (folder / "notifier.yaml").write_text(yaml.safe_dump(rules, allow_unicode=True))
    return folder


async def test_a_kind_switched_off_in_the_config_sends_nothing(
    make_settings: Any, smtp_server: tuple[Mailbox, int], tmp_path: Path
) -> None:
    mailbox, port = smtp_server
    rules = _rules_with(
        tmp_path / "config", signals={"kinds": {"website_only": False, "off_shift": "off"}}
    )
    service, settings = await start_notifier(
        make_settings, clock=FakeClock(MONDAY), smtp_port=port, config_dir=rules
    )
    events: list[Any] = []
    letters: list[dict[str, Any]] = []
    capture_into(service, settings.topics.notifications, events)
    capture_into(service, settings.topics.deadletter, letters, raw=True)
    quiet = low_csat(kind="website_only", value=None, threshold=None, detail="'see our FAQ'")
    away = low_csat(kind="off_shift", value=7200, threshold=3600, detail="replied at night")
    # Published after the two: once it is mailed, they have been handled too.
    witness = low_csat()

    async with running(service) as broker:
        for signal in (quiet, away, witness):
            await broker.publish(signal.model_dump(mode="json"), settings.topics.insights)
        await eventually(lambda: mailbox.envelopes)
        await eventually(lambda: all_sent(service, 1))

    assert mailbox.recipients() == [IVAN]
    [job] = await service.db["deliveries"].find({}).to_list()
    assert job["_id"] == f"{witness.event_id}:lead-technical:email"
    assert [p.cause_event_id for p in pushes(events)] == [str(witness.event_id)]
    assert letters == []
    await service.mongo.close()


async def test_a_monthly_report_reaches_its_manager_in_greek_with_the_category_tree(
    make_settings: Any, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    service, settings = await start_notifier(make_settings, clock=FakeClock(MONDAY), smtp_port=port)
    events: list[Any] = []
    capture_into(service, settings.topics.notifications, events)
    report = MonthlyReportReady(
        manager_id="mgr-technical",
        month="2025-12",
        teams=["technical"],
        tickets=250,
        previous_tickets=200,
        lines=[
            CategoryLine(path="network", count=150, share=0.6, change=40),
            CategoryLine(path="network/vpn", count=90, share=0.6, change=-5),
            CategoryLine(path="software", count=100, share=0.4, change=10),
        ],
        link="https://helpdesk.example/insights/reports/2025-12",
        occurred_at=MONDAY,
    )
    # A survey on the same topic is the intake's to mail, not the notifier's.
    survey = SurveyOffered(
        ticket_id="t-9",
        language="en",
        link="https://helpdesk.example/survey/t-9",
        expires_at=MONDAY + timedelta(days=14),
    )

    async with running(service) as broker:
        for event in (survey, report, report):
            await broker.publish(event.model_dump(mode="json"), settings.topics.insights)
        await eventually(lambda: mailbox.envelopes)
        await eventually(lambda: all_sent(service, 1))

    assert mailbox.recipients() == [ELENI]
    [mail] = mailbox.messages()
    assert mail["Content-Language"] == "el"
    assert str(mail["Subject"]) == "Μηνιαία αναφορά Δεκέμβριος 2025: 250 αιτήματα"
    lines = body(mail).splitlines()
    for row in (
        "  network: 150 · 60,0% · +40",
        "    vpn: 90 · 60,0% · -5",
        "  software: 100 · 40,0% · +10",
    ):
        assert row in lines, row
    text = body(mail)
    assert "+50 (+25,0%)" in text
    assert "Η πλήρης αναφορά: https://helpdesk.example/insights/reports/2025-12" in text
    assert pushes(events) == []  # the report goes by email only
    await service.mongo.close()
