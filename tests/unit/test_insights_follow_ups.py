"""Surveys and the signs of poor service, run on the in-memory store with a hand-driven clock:
a resolved ticket is surveyed after the delay and a reopened one is not, one answer per ticket
changeable for a while, waits too long raise one signal each, passed-around tickets, repeat
contacts, wording in replies and low scores reach the lead's topic."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from services.insights.config import load_config
from services.insights.domain.surveys import SurveyClosed
from services.insights.outlets import Outlets
from services.insights.service import InsightsService
from services.insights.store_memory import MemoryInsightsStore
from shared.agent_tokens import TokenKeys
from shared.clock import FakeClock
from shared.consuming import Batch, Delivery
from shared.events import (
    Event,
    MonthlyReportReady,
    SignalRaised,
    SurveyOffered,
    TicketAgentReplied,
    TicketAssigned,
    TicketCsatReceived,
    TicketOpened,
    TicketQueued,
    TicketRouted,
    TicketStatusChanged,
    TicketTransferred,
)
from shared.publishing import Publisher

ROOT = Path(__file__).resolve().parents[2]
SECRET = "a-test-secret-that-is-long-enough-for-hs256"
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday


class Recorder:
    """Stands in for a publisher: keeps what was sent."""

    def __init__(self) -> None:
        self.sent: list[Event] = []

    async def send(self, event: Event) -> None:
        self.sent.append(event)

    async def publish(self, event: Event) -> None:
        self.sent.append(event)

    async def publish_all(self, events: Any) -> None:
        self.sent.extend(events)


class Desk:
    def __init__(self, **survey_rules: Any) -> None:
        rules = load_config(ROOT / "config")
        if survey_rules:
            rules = replace(rules, surveys=rules.surveys.model_copy(update=survey_rules))
        self.clock = FakeClock(START)
        self.store = MemoryInsightsStore()
        self.insights_topic, self.tickets_topic = Recorder(), Recorder()
        outlets = Outlets(cast(Publisher, self.insights_topic), cast(Publisher, self.tickets_topic))
        self.keys = TokenKeys(SECRET, issuer="helpdesk-insights-survey")
        self.service = InsightsService(
            self.store, rules, self.clock, outlets,
            survey_keys=self.keys, public_url="https://help.example/insights/",
        )  # fmt: skip

    async def feed(self, *events: Event) -> None:
        deliveries = [Delivery(e, "t", 0, n, None, None) for n, e in enumerate(events)]
        batch: Batch[Event] = Batch(deliveries)
        await self.service.take(batch)
        await batch.flush()

    async def at(self, delta: timedelta) -> int:
        self.clock.advance(delta)
        return await self.service.fire_due()

    def raised(self, kind: str | None = None) -> list[SignalRaised]:
        return [e for e in self.insights_topic.sent if isinstance(e, SignalRaised)
                and (kind is None or e.kind == kind)]  # fmt: skip

    def offers(self) -> list[SurveyOffered]:
        return [e for e in self.insights_topic.sent if isinstance(e, SurveyOffered)]


def opened(t: str, channel: str = "email", language: str = "fa", **kw: Any) -> TicketOpened:
    return TicketOpened(ticket_id=t, reference=f"HD-{t}", contact_id=f"c-{t}",
                        customer_id=f"cust-{t}", channel=channel, language=language,
                        occurred_at=kw.pop("at", START), **kw)  # fmt: skip


def routed(t: str) -> TicketRouted:
    return TicketRouted(ticket_id=t, category="network", impact="low", urgency="low",
                        priority="P3", tier="L1", team="technical", reason="rules",
                        occurred_at=START)  # fmt: skip


def status(t: str, value: str, at: datetime) -> TicketStatusChanged:
    return TicketStatusChanged(ticket_id=t, status=value, occurred_at=at)


def reply(t: str, body: str, at: datetime) -> TicketAgentReplied:
    return TicketAgentReplied(ticket_id=t, agent_id="ag-nika", body=body, occurred_at=at)


async def test_a_resolved_ticket_is_surveyed_after_the_delay_in_its_language_and_answered() -> None:
    desk = Desk()
    await desk.feed(opened("t1"), routed("t1"), reply("t1", "Fixed.", START),
                    status("t1", "resolved", START + timedelta(minutes=5)))  # fmt: skip
    assert await desk.at(timedelta(hours=23)) == 0 and desk.offers() == []
    assert await desk.at(timedelta(hours=1, minutes=6)) == 1
    [offer] = desk.offers()
    assert (offer.ticket_id, offer.language, offer.channel) == ("t1", "fa", "email")
    assert offer.link.startswith("https://help.example/insights/survey/")
    token = offer.link.rsplit("/", 1)[1]
    assert desk.service.ticket_of(token) == "t1"
    assert offer.expires_at == desk.clock.now() + timedelta(days=14)
    # Fired once: later rounds and a redelivery of the resolution offer nothing more.
    await desk.feed(status("t1", "resolved", START + timedelta(minutes=5)))
    assert await desk.at(timedelta(days=1)) == 0 and len(desk.offers()) == 1

    first = await desk.service.answer("t1", 2, "  slow  ")
    [csat] = desk.tickets_topic.sent
    assert isinstance(csat, TicketCsatReceived)
    assert (csat.score, csat.comment, first.comment) == (2, "slow", "slow")
    await desk.feed(csat)  # the fold reads it back from the tickets topic
    [low] = desk.raised("low_csat")
    assert (low.team, low.value, low.threshold, low.subject) == ("technical", 2.0, 2.0, "t1")
    desk.clock.advance(timedelta(days=6))
    changed = await desk.service.answer("t1", 4, None)
    assert (changed.score, changed.comment, changed.answers) == (4, "slow", 2)
    assert desk.store.stored["t1"].csat_score == 2  # until the new answer's event is folded
    desk.clock.advance(timedelta(days=2))
    with pytest.raises(SurveyClosed, match="no longer be changed"):
        await desk.service.answer("t1", 5, None)


async def test_a_ticket_reopened_before_the_delay_gets_no_survey() -> None:
    desk = Desk()
    await desk.feed(opened("t2"), routed("t2"), status("t2", "resolved", START))
    await desk.feed(status("t2", "reopened", START + timedelta(hours=3)))
    await desk.at(timedelta(days=2))
    assert desk.offers() == []
    # (Reopened, it waits for an agent again: that wait is a signal of its own.)
    assert [s.subject for s in desk.raised("reply_wait")] == ["t2"]
    # Resolved again: surveyed a day after the new resolution.
    await desk.feed(status("t2", "resolved", desk.clock.now()))
    await desk.at(timedelta(hours=23))
    assert desk.offers() == []
    await desk.at(timedelta(hours=1, seconds=1))
    assert len(desk.offers()) == 1


async def test_phone_tickets_and_an_unconfigured_service_offer_no_survey() -> None:
    desk = Desk()
    await desk.feed(opened("t3", channel="phone"), status("t3", "resolved", START))
    assert await desk.at(timedelta(days=2)) == 0
    rules = load_config(ROOT / "config")
    quiet = InsightsService(MemoryInsightsStore(), rules, FakeClock(START), None)
    assert quiet.follow.survey_channels == frozenset()


async def test_an_expired_link_takes_no_answer() -> None:
    desk = Desk(link_valid_for=timedelta(days=1))
    await desk.feed(opened("t4", channel="chat"), status("t4", "resolved", START))
    await desk.at(timedelta(days=1, seconds=1))
    assert len(desk.offers()) == 1
    desk.clock.advance(timedelta(days=1, seconds=1))
    with pytest.raises(SurveyClosed, match="expired"):
        await desk.service.answer("t4", 5, None)


async def test_a_wait_in_the_queue_beyond_the_threshold_raises_one_signal() -> None:
    desk = Desk()
    queued = TicketQueued(ticket_id="t5", team="technical", tier="L1", priority="P3",
                          order="fifo", reason="nobody free", occurred_at=START)  # fmt: skip
    await desk.feed(opened("t5", channel="chat", language="en"), routed("t5"), queued)
    await desk.at(timedelta(minutes=29))
    assert desk.raised("queue_wait") == []
    await desk.at(timedelta(minutes=2))
    [signal] = desk.raised("queue_wait")
    assert (signal.subject, signal.team, signal.threshold) == ("t5", "technical", 1800.0)
    assert signal.value == 31 * 60
    await desk.at(timedelta(hours=1))
    assert len(desk.raised("queue_wait")) == 1
    # Assigned in time, a second ticket raises nothing.
    await desk.feed(opened("t6", channel="chat"), routed("t6"),
                    queued.model_copy(update={"ticket_id": "t6", "occurred_at": desk.clock.now()}),
                    TicketAssigned(ticket_id="t6", agent_id="ag-maria", team="technical",
                                   reason="free", occurred_at=desk.clock.now()))  # fmt: skip
    await desk.at(timedelta(hours=1))
    assert [s.subject for s in desk.raised("queue_wait")] == ["t5"]


async def test_a_customer_waiting_for_a_reply_counts_business_time() -> None:
    desk = Desk()
    friday_evening = datetime(2026, 11, 6, 16, 0, tzinfo=UTC)  # Athens 18:00, closed
    await desk.feed(opened("t7", at=friday_evening), routed("t7"))
    desk.clock.set(friday_evening)
    # 8 business hours on the Greek calendar (09:00-17:00 Athens): Monday 15:00 UTC.
    await desk.at(timedelta(days=2, hours=22, minutes=59))
    assert desk.raised("reply_wait") == []
    await desk.at(timedelta(minutes=2))
    [signal] = desk.raised("reply_wait")
    assert signal.subject == "t7" and "since 2026-11-06 16:00" in signal.detail


async def test_passed_around_repeat_contacts_wording_and_their_ids_are_stable() -> None:
    desk = Desk()
    transfers = [
        TicketTransferred(ticket_id="t8", from_team="technical", to_team="accounts",
                          transfer_count=n, reason="skills", occurred_at=START)
        for n in (1, 2, 3, 4)
    ]  # fmt: skip
    await desk.feed(opened("t8"), routed("t8"), *transfers)
    [passed] = desk.raised("passed_around")
    assert passed.value == 3 and "accounts" in passed.detail
    await desk.feed(opened("t9", channel="chat", repeat_of="t8", at=START + timedelta(days=1)))
    assert desk.raised("another_channel") == []  # no team yet: nobody to tell
    await desk.feed(routed("t9"))
    [again] = desk.raised("another_channel")
    await desk.feed(routed("t9").model_copy(update={"event_id": uuid.uuid4()}))  # routed again
    assert len(desk.raised("another_channel")) == 1
    assert "chat" in again.detail and "email" in again.detail
    await desk.feed(routed("t10"))  # routing read before the opening this time
    await desk.feed(opened("t10", repeat_of="t8", at=START + timedelta(days=2)))
    assert [s.subject for s in desk.raised("repeat_contact")] == ["t10"]
    rude = reply("t8", "همان‌طور که گفتم این مشکل ما نیست", START + timedelta(hours=1))
    pointer = reply("t8", "به وب‌سایت ما مراجعه کنید: https://example.com/faq", START)
    await desk.feed(rude, pointer)
    [negative] = desk.raised("negative_wording")
    assert negative.agent_id == "ag-nika" and "مشکل ما نیست" in negative.detail
    assert len(desk.raised("website_only")) == 1
    before = [s.event_id for s in desk.raised()]
    other = Desk()
    await other.feed(opened("t8"), routed("t8"), *transfers, rude, pointer)
    assert {s.event_id for s in other.raised()} <= set(before)  # derived from their causes


async def test_no_report_is_sent_of_a_month_before_the_desks_first_ticket() -> None:
    desk = Desk()
    desk.clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    await desk.feed(opened("t12", at=datetime(2026, 12, 1, 8, 0, tzinfo=UTC)), routed("t12"))
    assert await desk.service.send_monthly_reports() == []  # December's ticket: November's empty
    # November's history read later (the service started after the others): now it is sent.
    await desk.feed(opened("t11"), routed("t11"))
    assert len(await desk.service.send_monthly_reports()) == 3


async def test_each_manager_gets_last_months_report_once_on_the_first_working_day() -> None:
    desk = Desk()
    await desk.feed(opened("t11"), routed("t11"))  # technical, November 2026
    # 1 December 2026 is a Tuesday. A report is due an hour after its team's calendar opens:
    # Tehran 08:00 (04:30 UTC), Moscow 09:00 (06:00 UTC), Athens 09:00 (07:00 UTC).
    desk.clock.set(datetime(2026, 12, 1, 5, 29, tzinfo=UTC))
    assert await desk.service.send_monthly_reports() == []
    desk.clock.set(datetime(2026, 12, 1, 5, 31, tzinfo=UTC))
    assert await desk.service.send_monthly_reports() == ["mgr-accounts:2026-11"]
    desk.clock.set(datetime(2026, 12, 1, 7, 1, tzinfo=UTC))
    assert await desk.service.send_monthly_reports() == ["mgr-service-desk:2026-11"]
    desk.clock.set(datetime(2026, 12, 1, 8, 1, tzinfo=UTC))
    assert await desk.service.send_monthly_reports() == ["mgr-technical:2026-11"]
    assert await desk.service.send_monthly_reports() == []  # once
    reports = {e.manager_id: e for e in desk.insights_topic.sent
               if isinstance(e, MonthlyReportReady)}  # fmt: skip
    technical = reports["mgr-technical"]
    assert (technical.month, technical.teams, technical.tickets) == ("2026-11", ["technical"], 1)
    assert [line.path for line in technical.lines] == [
        "network", "network/(unspecified)", "network/(unspecified)/(unspecified)",
    ]  # fmt: skip
    assert reports["mgr-accounts"].tickets == 0


def assigned(t: str, agent: str, at: datetime) -> TicketAssigned:
    return TicketAssigned(ticket_id=t, agent_id=agent, team="technical", reason="free",
                          occurred_at=at)  # fmt: skip


async def test_an_agent_over_capacity_for_the_stretch_raises_one_signal() -> None:
    desk = Desk()
    # Leon holds email tickets up to 6 (config/teams.yaml); a seventh puts him over.
    tickets = [f"o{n}" for n in range(7)]
    for n, t in enumerate(tickets):
        await desk.feed(opened(t), routed(t), assigned(t, "ag-leon", START + timedelta(minutes=n)))
    assert desk.store.over == {"ag-leon": START}
    await desk.at(timedelta(minutes=59))
    assert desk.raised("over_capacity") == []
    await desk.at(timedelta(minutes=2))
    [signal] = desk.raised("over_capacity")
    assert (signal.subject, signal.team, signal.agent_id) == ("ag-leon", "technical", "ag-leon")
    assert "email 7 of 6" in signal.detail and signal.threshold == 3600
    # Back under capacity: the state clears, and a later stretch is a new one.
    await desk.feed(status("o0", "resolved", desk.clock.now()))
    assert desk.store.over == {} and len(desk.store.held) == 6
    await desk.at(timedelta(hours=3))
    assert len(desk.raised("over_capacity")) == 1


async def test_replies_outside_the_shift_for_an_hour_in_a_day_raise_off_shift() -> None:
    desk = Desk()
    # Leon works the Greek office's hours (09:00-17:00 Athens, 07:00-15:00 UTC).
    evening = datetime(2026, 11, 3, 18, 0, tzinfo=UTC)  # 20:00 in Athens
    await desk.feed(opened("s1"), routed("s1"), assigned("s1", "ag-leon", START))
    await desk.feed(TicketAgentReplied(ticket_id="s1", agent_id="ag-leon", body="On it.",
                                       occurred_at=evening))  # fmt: skip
    assert desk.raised("off_shift") == []
    await desk.feed(TicketAgentReplied(ticket_id="s1", agent_id="ag-leon", body="Fixed.",
                                       occurred_at=evening + timedelta(minutes=70)))  # fmt: skip
    [signal] = desk.raised("off_shift")
    assert signal.value == 70 * 60 and "2026-11-03" in signal.detail
    # An agent of a team working any time (no shift) never raises it.
    await desk.feed(TicketAgentReplied(ticket_id="s1", agent_id="ag-maria", body="x",
                                       occurred_at=evening + timedelta(hours=5)))  # fmt: skip
    assert len(desk.raised("off_shift")) == 1
