"""The SLA domain under test: a desk of real calendars, rules and a fake clock; and the
service on an in-memory store and publisher.

Unless a test says otherwise the ticket belongs to team `technical`, whose calendar is
`greece` (Europe/Athens, Mon-Fri 09:00-17:00, EET = UTC+2 in November). The week of Monday
2026-11-23 has no Greek, Russian or Iranian holiday. Every expected instant is worked out
by hand in a comment.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from faststream.kafka import KafkaBroker

from services.sla.domain import announce, transitions
from services.sla.domain.policies import SlaPolicies
from services.sla.domain.ticket import Decision, Finished, Rules, TicketSla
from services.sla.service import SlaService
from services.sla.state import SlaState
from services.sla.store import SlaStore
from services.sla.timer import DeadlineHeap
from shared.business_calendar import load_calendars
from shared.clock import FakeClock
from shared.consuming import Batch, Delivery
from shared.events import (
    Event,
    SlaEvent,
    TicketAgentReplied,
    TicketAssigned,
    TicketContactAppended,
    TicketOpened,
    TicketPriorityChanged,
    TicketRouted,
    TicketStatusChanged,
    TicketTransferred,
)
from shared.publishing import Publisher

ROOT = Path(__file__).resolve().parents[2]
CALENDARS = load_calendars(ROOT / "config")
ATHENS, MOSCOW = ZoneInfo("Europe/Athens"), ZoneInfo("Europe/Moscow")
H, M = timedelta(hours=1), timedelta(minutes=1)
E = TypeVar("E", bound=Event)

POLICIES: dict[str, Any] = {
    "warning_levels": [50, 75, 90],
    "colours": {"amber": 75, "red": 90},
    "pause_on": ["pending", "on_hold"],
    "on_reopen": "restart",
    "default": {"targets": {"first_response": "PT4H", "next_reply": "PT2H", "resolution": "PT8H"}},
    "policies": [
        {
            "name": "urgent",
            "match": {"priority": "P1"},
            "targets": {"first_response": "PT1H", "resolution": "PT4H"},
        },
        {
            "name": "enterprise",
            "match": {"plan": "enterprise"},
            "targets": {"first_response": "PT2H"},
        },
        {"name": "billing", "match": {"category": "billing"}, "targets": {"resolution": "PT16H"}},
    ],
}


def _rules(version: str = "v1", **overrides: Any) -> Rules:
    doc = {**POLICIES, **overrides}
    return Rules(SlaPolicies.model_validate(doc), CALENDARS, version)


RULES = _rules()


def athens(day: int, hour: int, minute: int = 0) -> datetime:
    """An Athens wall time in November 2026, as UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=ATHENS).astimezone(UTC)


def moscow(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=MOSCOW).astimezone(UTC)


class Desk:
    """One ticket moved by the transitions; keeps what each step announced and finished."""

    def __init__(self, start: datetime, rules: Rules = RULES, ticket_id: str = "t-1") -> None:
        self.clock = FakeClock(start)
        self.rules = rules
        self.ticket = TicketSla(ticket_id=ticket_id)
        self.finished: list[Finished] = []

    def at(self, instant: datetime) -> Desk:
        self.clock.set(instant)
        return self

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def take(self, decision: Decision, cause: Event | None) -> list[Event]:
        events = announce.events_of(decision, self.rules, cause, self.now)
        self.ticket = decision.ticket
        self.finished += decision.finished
        return events

    def common(self) -> dict[str, Any]:
        return {"ticket_id": self.ticket.ticket_id, "occurred_at": self.now}

    def opened(self, plan: str = "standard") -> list[Event]:
        event = TicketOpened(
            **self.common(),
            reference="HD-1",
            contact_id="c-1",
            customer_id="cu-1",
            customer_plan=plan,
            channel="email",
            correlation_id="c-1",
        )
        return self.take(transitions.opened(self.ticket, event, self.rules, self.now), event)

    def routed(
        self,
        priority: Any = "P3",
        team: str = "technical",
        category: str = "network",
        plan: str = "standard",
    ) -> list[Event]:
        event = self.routing(priority, team, category, plan)
        return self.take(transitions.routed(self.ticket, event, self.rules, self.now, 3), event)

    def routing(
        self,
        priority: Any = "P3",
        team: str = "technical",
        category: str = "network",
        plan: str = "standard",
    ) -> TicketRouted:
        return TicketRouted(
            **self.common(),
            category=category,
            impact="medium",
            urgency="medium",
            priority=priority,
            tier="L1",
            team=team,
            customer_plan=plan,
            reason="matched",
        )

    def replied(self) -> list[Event]:
        event = TicketAgentReplied(**self.common(), agent_id="a-1", body="On it")
        return self.take(transitions.agent_replied(self.ticket, event, self.rules, self.now), event)

    def customer_wrote(self) -> list[Event]:
        event = TicketContactAppended(
            **self.common(), contact_id="c-2", customer_id="cu-1", channel="email"
        )
        return self.take(
            transitions.customer_wrote(self.ticket, event, self.rules, self.now), event
        )

    def status(self, status: Any) -> list[Event]:
        event = TicketStatusChanged(**self.common(), status=status)
        return self.take(
            transitions.status_changed(self.ticket, event, self.rules, self.now), event
        )

    def priority(self, priority: Any) -> list[Event]:
        event = TicketPriorityChanged(**self.common(), priority=priority)
        decision = transitions.priority_changed(self.ticket, event, self.rules, self.now)
        return self.take(decision, event)

    def transferred(self, team: str) -> list[Event]:
        event = TicketTransferred(
            **self.common(),
            to_agent_id="a-2",
            from_team=self.ticket.team or "",
            to_team=team,
            transfer_count=1,
            reason="skills",
        )
        return self.take(transitions.transferred(self.ticket, event, self.rules, self.now), event)

    def assigned(self, team: str) -> list[Event]:
        event = TicketAssigned(**self.common(), agent_id="a-3", team=team, reason="free")
        return self.take(transitions.assigned(self.ticket, event, self.rules, self.now), event)

    def advance(self) -> list[Event]:
        return self.take(transitions.advance(self.ticket, self.rules, self.now), None)

    def tick(self) -> list[Event]:
        """The timer fires at the ticket's next moment."""
        assert self.ticket.next_at is not None
        return self.at(self.ticket.next_at).advance()


def only(events: list[Event], kind: type[E], metric: str | None = None) -> E:
    found = [e for e in events if isinstance(e, kind) and metric in (None, e.metric)]  # type: ignore[attr-defined]
    assert len(found) == 1, events
    return found[0]


def kinds(events: list[Event]) -> list[tuple[str, str]]:
    return [(e.event_type, e.metric) for e in events]  # type: ignore[attr-defined]


# --- the service in memory ---------------------------------------------------------------


class RecordingPublisher(Publisher):
    """The SLA topic in memory: what is published, in order. With `hold_breaches`, a breach
    stays in flight until the test sets `release`."""

    def __init__(self, *, hold_breaches: bool = False) -> None:
        super().__init__(KafkaBroker(), "helpdesk.sla.v1", SlaEvent, title="sla.events")
        self.events: list[Event] = []
        self.holding = asyncio.Event()
        self.release = asyncio.Event()
        if not hold_breaches:
            self.release.set()

    @property
    def sent(self) -> list[str]:
        return [e.event_type for e in self.events]

    async def send(self, event: Event) -> asyncio.Future[Any] | None:
        self.events.append(event)
        if event.event_type == "sla.breached":
            self.holding.set()
            await self.release.wait()
        return None


def delivery(event: Event, partition: int = 0, offset: int = 0) -> Delivery[Any]:
    """An input as the kit hands it over (the topic does not matter to the service)."""
    return Delivery(event, "helpdesk.tickets.v1", partition, offset, event.kafka_key(), None)


async def take(service: SlaService, *items: Event | Delivery[Any]) -> Batch[Any]:
    """Hand the service one batch of these inputs, as the kit does, and send what it left."""
    deliveries = [
        i if isinstance(i, Delivery) else delivery(i, offset=n) for n, i in enumerate(items)
    ]
    batch: Batch[Any] = Batch(deliveries)
    await service.take(batch)
    await batch.flush()
    return batch


def memory_service(
    store: SlaStore, rules: Rules, clock: FakeClock, publisher: Publisher | None = None
) -> SlaService:
    """The service on an in-memory store, timer and publisher."""
    state = SlaState(rules=rules, store=store, timer=DeadlineHeap(), clock=clock)
    return SlaService(state, publisher or RecordingPublisher())
