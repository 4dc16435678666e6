"""The notifier's batch use cases on the in-memory store, fed batches through the consumer kit:
several events of one ticket in one batch, a record that fails alone, store calls that do not
grow with the batch, the live push consumer reading only the rows it does not hold, and the
insights service's signs of poor service and monthly reports."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, cast

from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaBroker, TestKafkaBroker

from services.notifier.app import build_app
from services.notifier.push import PushHub
from services.notifier.settings import NotifierSettings
from services.notifier.store import NotifierStore
from services.notifier.store_memory import MemoryNotifierStore
from shared.clock import FakeClock
from shared.consuming import ConsumerKit
from shared.events import (
    CategoryLine,
    Event,
    MonthlyReportReady,
    SignalRaised,
    SlaBreached,
    SlaMet,
    SlaStarted,
    SurveyOffered,
    TicketAssigned,
    TicketEscalated,
    TicketOpened,
    TicketRouted,
    notification_events,
)
from shared.idempotency import MemoryGuard
from shared.ids import derived_id, ticket_reference
from shared.runtime import Service
from tests.conftest import ROOT

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday morning: within working hours


def opened(ticket_id: str, at: datetime = T0) -> TicketOpened:
    return TicketOpened(
        ticket_id=ticket_id,
        reference=ticket_reference(ticket_id),
        contact_id=f"c-{ticket_id}",
        customer_id="cu-1",
        customer_name="Acme Shipping",
        channel="email",
        subject=f"VPN down ({ticket_id})",
        occurred_at=at,
    )


def routed(ticket_id: str, at: datetime = T0, team: str = "technical") -> TicketRouted:
    return TicketRouted(
        ticket_id=ticket_id,
        category="network",
        impact="high",
        urgency="medium",
        priority="P2",
        tier="L1",
        team=team,
        reason="network words",
        occurred_at=at,
    )


def assigned(
    ticket_id: str, at: datetime = T0, agent: str = "ag-nika", team: str = "technical"
) -> TicketAssigned:
    return TicketAssigned(
        ticket_id=ticket_id, agent_id=agent, team=team, reason="lowest load", occurred_at=at
    )


def started(ticket_id: str, metric: str, at: datetime = T0) -> SlaStarted:
    return SlaStarted(
        ticket_id=ticket_id,
        metric=metric,
        team="technical",
        due_at=at + timedelta(hours=1),
        target_seconds=3600,
        occurred_at=at,
    )


def story(ticket_id: str, at: datetime = T0) -> dict[str, list[Event]]:
    """The six events a new ticket brings under a burst, by the topic they come on."""
    later = [at + timedelta(milliseconds=n) for n in range(1, 6)]
    return {
        "tickets": [opened(ticket_id, at)],
        "routing": [routed(ticket_id, later[0]), assigned(ticket_id, later[1])],
        "sla": [
            started(ticket_id, metric, when)
            for metric, when in zip(
                ("first_response", "next_reply", "resolution"), later[2:], strict=True
            )
        ],
    }


def record(topic: str, value: Any, offset: int) -> ConsumerRecord[bytes, bytes]:
    if isinstance(value, Event):
        raw = json.dumps(value.model_dump(mode="json")).encode()
        key = value.kafka_key()
    else:
        raw, key = value, b"poison"
    return ConsumerRecord(topic, 0, offset, 0, 0, key, raw, None, 1, len(raw), [])


class CountingStore:
    """A store that counts the calls made to it, by method."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return await method(*args, **kwargs)

        return counted


class Connection:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []

    async def send_text(self, data: str) -> None:
        self.received.append(json.loads(data))


class Desk:
    """A notifier on a store (in memory unless given), its kit fed batches directly, with what
    it publishes captured."""

    SUBSCRIBERS: ClassVar[dict[str, str]] = {
        "tickets": "notifier.on_events",
        "routing": "notifier.on_events",
        "sla": "notifier.on_events",
        "insights": "notifier.on_insights",
    }

    def __init__(self, store: Any = None, settings: NotifierSettings | None = None) -> None:
        self.settings = settings or NotifierSettings(
            config_dir=ROOT / "config", environment="local"
        )
        self.broker = KafkaBroker()
        self.kit = ConsumerKit(self.broker, self.settings, MemoryGuard())
        self.store = CountingStore(store if store is not None else MemoryNotifierStore())
        self.clock = FakeClock(T0 + timedelta(seconds=1))
        self.hub = PushHub()
        self.service: Service = build_app(
            self.settings,
            kit=self.kit,
            store=cast(NotifierStore, self.store),
            clock=self.clock,
            hub=self.hub,
        )
        self.notifications: list[dict[str, Any]] = []
        self.letters: list[dict[str, Any]] = []

        @self.broker.subscriber(self.settings.topics.notifications)
        async def notifications(body: dict[str, Any]) -> None:
            self.notifications.append(body)

        @self.broker.subscriber(self.settings.topics.deadletter)
        async def letters(body: dict[str, Any]) -> None:
            self.letters.append(body)

    def topic(self, name: str) -> str:
        topic: str = getattr(self.settings.topics, name)
        return topic

    async def feed(self, name: str, *values: Any, subscriber: str | None = None) -> None:
        """One batch of `values` on topic `name`, to its shared-group subscriber (or another)."""
        spec = self.kit.subscriptions[subscriber or self.SUBSCRIBERS[name]]
        records = [record(self.topic(name), v, n) for n, v in enumerate(values)]
        async with TestKafkaBroker(self.broker):
            await self.kit.consume(spec, records)

    def published(self, event_type: str) -> list[dict[str, Any]]:
        return [n for n in self.notifications if n["event_type"] == event_type]


def memory(desk: Desk) -> MemoryNotifierStore:
    inner: MemoryNotifierStore = desk.store.inner
    return inner


async def test_events_of_one_ticket_in_one_batch_are_handled_in_order() -> None:
    desk = Desk()
    escalated = TicketEscalated(
        ticket_id="t-1",
        from_tier="L1",
        to_tier="L2",
        trigger="agent_request",
        reason="needs a network engineer",
        occurred_at=T0 + timedelta(milliseconds=3),
    )
    # The escalation carries no team nor agent: it reaches the agent assigned just before it,
    # in the same batch.
    await desk.feed(
        "routing", routed("t-1"), assigned("t-1", T0 + timedelta(milliseconds=2)), escalated
    )

    assert desk.letters == []
    pushes = desk.published("notification.pushed")
    assert [(p["kind"], p["recipients"]) for p in pushes] == [
        ("assigned", ["ag-nika"]),
        ("escalated", ["ag-nika"]),
    ]
    row = memory(desk).rows["t-1"]
    assert (row["category"], row["team"], row["assignee_id"], row["tier"]) == (
        "network",
        "technical",
        "ag-nika",
        "L2",
    )
    jobs = memory(desk).jobs_by_key
    assert sorted(job.notice.kind for job in jobs.values()) == ["assigned", "escalated"]
    assert {job.notice.team for job in jobs.values()} == {"technical"}
    assert desk.store.calls["board_rows"] == 1 and desk.store.calls["apply_board"] == 1


async def test_a_ladder_opened_and_its_target_met_in_one_batch_is_opened_then_stopped() -> None:
    desk = Desk()
    breach = SlaBreached(
        ticket_id="t-2",
        metric="first_response",
        team="technical",
        assignee_id="ag-nika",
        priority="P2",
        due_at=T0,
        late_by_seconds=1,
        occurred_at=T0 + timedelta(seconds=1),
    )
    met = SlaMet(
        ticket_id="t-2",
        metric="first_response",
        due_at=T0,
        used_seconds=3601,
        occurred_at=T0 + timedelta(seconds=2),
    )
    await desk.feed("sla", started("t-2", "first_response"), breach, met)

    escalation_id = str(derived_id(breach.event_id, "escalation"))
    [pushed] = desk.published("notification.pushed")
    assert (pushed["escalation_id"], pushed["recipients"]) == (escalation_id, ["ag-nika"])
    [stopped] = desk.published("escalation.acknowledged")
    assert (stopped["escalation_id"], stopped["status"]) == (escalation_id, "stopped")
    assert memory(desk).ladders[escalation_id].status == "stopped"
    clock = memory(desk).rows["t-2"]["clocks"]["first_response"]
    assert (clock["breached"], clock["met"]) == (True, True)
    # Pushes go out before the stop: consoles hear of the ladder before it ends.
    kinds = [n["event_type"] for n in desk.notifications]
    assert kinds.index("notification.pushed") < kinds.index("escalation.acknowledged")


async def test_a_record_nobody_can_act_on_is_dead_lettered_and_the_rest_is_handled() -> None:
    desk = Desk()
    ghost = assigned("t-3", agent="ag-ghost", team="no-such-team")
    await desk.feed("routing", ghost, b"{not json", assigned("t-4"))

    reasons = sorted(letter["reason"] for letter in desk.letters)
    assert len(reasons) == 2
    assert reasons[0].startswith("JSONDecodeError")
    assert "nobody to tell about ticket.assigned of ticket t-3" in reasons[1]
    assert [p["ticket_id"] for p in desk.published("notification.pushed")] == ["t-4"]
    assert [job.ticket_id for job in memory(desk).jobs_by_key.values()] == ["t-4"]
    # The board shows the assignment all the same, as it did before batches.
    assert memory(desk).rows["t-3"]["assignee_id"] == "ag-ghost"


async def _calls_for(tickets: int) -> Counter[str]:
    desk = Desk()
    for topic in ("tickets", "routing", "sla"):
        events = [e for n in range(tickets) for e in story(f"t-{n:03d}")[topic]]
        await desk.feed(topic, *events)
    assert desk.letters == []
    assert len(memory(desk).rows) == tickets
    assert len(memory(desk).jobs_by_key) == tickets  # one email per assignment
    return desk.store.calls


async def test_a_batch_costs_the_same_store_calls_for_five_tickets_as_for_fifty() -> None:
    few, many = await _calls_for(5), await _calls_for(16)  # 16 tickets: 48 sla records
    assert few == many
    assert few == Counter(apply_board=3, board_rows=1, enqueue=1)


async def test_a_repeated_batch_changes_nothing_and_no_console_sees_a_notice_twice() -> None:
    desk = Desk()
    console = Connection()
    desk.hub.add("ag-nika", console)
    events = story("t-5")["routing"]
    await desk.feed("routing", *events)
    await desk.feed("routing", *events)
    pushes = desk.published("notification.pushed")
    # Published again under the same id (every replica's push consumer reads both)...
    assert [p["event_id"] for p in pushes] == [pushes[0]["event_id"]] * 2
    # ...and shown once.
    assert [m["type"] for m in console.received].count("notice") == 1
    assert len(memory(desk).jobs_by_key) == 1


async def test_the_push_consumer_reads_only_the_rows_it_does_not_hold() -> None:
    desk = Desk()
    console = Connection()
    desk.hub.add("mgr-technical", console)
    live = "notifier.on_live_push"
    tickets = [f"t-{n}" for n in range(12)]
    await desk.feed("tickets", *[opened(t) for t in tickets], subscriber=live)
    assert desk.store.calls["board_rows"] == 1
    later = T0 + timedelta(seconds=1)
    await desk.feed("routing", *[routed(t, later) for t in tickets], subscriber=live)
    await desk.feed("routing", *[assigned(t, later) for t in tickets], subscriber=live)
    assert desk.store.calls["board_rows"] == 1  # every row is held by now

    def shown(ticket_id: str) -> list[str | None]:
        return [
            m["data"]["assignee_id"]
            for m in console.received
            if m["type"] == "ticket" and m["data"]["ticket_id"] == ticket_id
        ]

    # Opened: no team yet, nobody sees it; routed: the team's queue; then assigned.
    assert all(shown(t) == [None, "ag-nika"] for t in tickets)


def signal(kind: str = "low_csat", **fields: Any) -> SignalRaised:
    values: dict[str, Any] = {
        "subject": "t-9",
        "ticket_id": "t-9",
        "kind": kind,
        "team": "technical",
        "agent_id": "ag-sergei",
        "value": 1,
        "threshold": 2,
        "detail": "scored 1",
        "occurred_at": T0,
    }
    return SignalRaised(**(values | fields))


def report(manager_id: str) -> MonthlyReportReady:
    return MonthlyReportReady(
        manager_id=manager_id,
        month="2025-12",
        teams=["service-desk"],
        tickets=3,
        previous_tickets=5,
        lines=[CategoryLine(path="general", count=3, share=1.0, change=-2)],
        occurred_at=T0,
    )


async def test_signs_and_reports_are_told_once_per_event_and_surveys_are_left_alone() -> None:
    desk = Desk()
    console = Connection()
    desk.hub.add("lead-technical", console)
    low = signal()
    agents = signal(
        "over_capacity", subject="ag-john", ticket_id=None, team=None, agent_id="ag-john"
    )
    monthly, ghost = report("mgr-service-desk"), report("mgr-ghost")
    survey = SurveyOffered(
        ticket_id="t-9", language="en", link="https://x.example/s", expires_at=T0
    )
    batch = [low, survey, agents, monthly, ghost, low]
    await desk.feed("insights", *batch)
    await desk.feed("insights", *batch)

    jobs = memory(desk).jobs_by_key
    assert sorted(jobs) == sorted(
        [
            f"{low.event_id}:lead-technical:email",
            f"{agents.event_id}:mgr-accounts:email",
            f"{monthly.event_id}:mgr-service-desk:email",
        ]
    )
    assert {job.notice.kind for job in jobs.values()} == {"signal", "monthly_report"}
    pushes = desk.published("notification.pushed")
    # Each sign pushed under one id, again when the batch came again; the report by email only.
    assert sorted({(p["event_id"], p["recipients"][0], p["ticket_id"]) for p in pushes}) == sorted(
        [
            (str(derived_id(low.event_id, "push", 0)), "lead-technical", "t-9"),
            (str(derived_id(agents.event_id, "push", 0)), "mgr-accounts", ""),
        ]
    )
    # A manager the directory does not know is dead-lettered with why, each time it comes.
    assert [letter["reason"] for letter in desk.letters].count(desk.letters[0]["reason"]) == 2
    assert "person 'mgr-ghost'" in desk.letters[0]["reason"]
    assert len(desk.letters) == 2
    assert desk.store.calls["enqueue"] == 2 and desk.store.calls["board_rows"] == 0


async def test_a_console_shows_a_sign_once_with_its_reference_and_an_agents_without() -> None:
    desk = Desk()
    consoles = {"lead-technical": Connection(), "mgr-accounts": Connection()}
    for person_id, console in consoles.items():
        desk.hub.add(person_id, console)
    low = signal()
    agents = signal("off_shift", subject="ag-olga", ticket_id=None, team=None, agent_id="ag-olga")
    await desk.feed("insights", low, agents)
    pushed = [notification_events.validate_python(p) for p in desk.published("notification.pushed")]
    records = [record(desk.topic("notifications"), p, n) for n, p in enumerate(pushed)]
    spec = desk.kit.subscriptions["notifier.on_live_push"]
    async with TestKafkaBroker(desk.broker):
        await desk.kit.consume(spec, records)
        await desk.kit.consume(spec, records)

    [lead] = [m["data"] for m in consoles["lead-technical"].received if m["type"] == "notice"]
    assert (lead["kind"], lead["ticket_id"], lead["reference"]) == (
        "signal",
        "t-9",
        ticket_reference("t-9"),
    )
    assert lead["text"].startswith(f"{ticket_reference('t-9')} coaching notice:")
    [manager] = [m["data"] for m in consoles["mgr-accounts"].received if m["type"] == "notice"]
    assert (manager["ticket_id"], manager["reference"]) == (None, None)
    assert manager["text"].startswith("Coaching notice: agent working outside their shift")
    # The audit trail of a push about no ticket names no ticket.
    audit = {(d["recipient"], d["ticket_id"]) for d in desk.published("notification.delivered")}
    assert audit == {("lead-technical", "t-9"), ("mgr-accounts", None)}
