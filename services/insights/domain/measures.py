"""What one ticket's fact says in figures: its times (calendar and business), first-contact
resolution, waiting. Every report and every drill-down reads a ticket through `measure`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.insights.domain.facts import CLOSED, TicketFact
from shared.business_calendar import BusinessCalendar, Calendars


@dataclass(frozen=True, slots=True)
class Measures:
    first_response_seconds: float | None
    first_response_business_seconds: float | None
    resolve_seconds: float | None
    resolve_business_seconds: float | None
    queue_wait_seconds: float | None
    pending_seconds: float
    on_hold_seconds: float
    ever_resolved: bool
    first_contact_resolved: bool


def calendar_of(fact: TicketFact, calendars: Calendars) -> BusinessCalendar:
    """The calendar the ticket's SLA clocks ran on (from `sla.started`), else its team's."""
    if fact.calendar and fact.calendar in calendars.names:
        return calendars.get(fact.calendar)
    return calendars.for_team(fact.team)


def business_seconds(
    fact: TicketFact, calendar: BusinessCalendar, start: datetime, end: datetime
) -> float:
    """Business time from `start` to `end` on the ticket's calendar, less the business time it
    spent waiting on the customer (pending, on hold): the time the SLA clocks ran."""
    if end <= start:
        return 0.0
    total = calendar.elapsed(start, end)
    for since, until in fact.waiting_intervals(end):
        low, high = max(since, start), min(until, end)
        if high > low:
            total -= calendar.elapsed(low, high)
    return max(0.0, total.total_seconds())


def first_contact_resolved(fact: TicketFact) -> bool:
    """Resolved with one agent reply, no transfer and never reopened."""
    return fact.resolved and fact.agent_replies == 1 and fact.transfers == 0 and not fact.reopened


def measure(fact: TicketFact, calendars: Calendars, now: datetime) -> Measures:
    opened = fact.opened_at
    calendar = calendar_of(fact, calendars)
    first, resolved = fact.first_response_at, fact.resolved_at
    until = resolved or now

    def spans(end: datetime | None) -> tuple[float | None, float | None]:
        if opened is None or end is None:
            return None, None
        return (
            max(0.0, (end - opened).total_seconds()),
            business_seconds(fact, calendar, opened, end),
        )

    first_calendar, first_business = spans(first)
    resolve_calendar, resolve_business = spans(resolved)
    queue_wait = (
        max(0.0, (fact.first_assigned_at - opened).total_seconds())
        if opened is not None and fact.first_assigned_at is not None
        else None
    )
    return Measures(
        first_response_seconds=first_calendar,
        first_response_business_seconds=first_business,
        resolve_seconds=resolve_calendar,
        resolve_business_seconds=resolve_business,
        queue_wait_seconds=queue_wait,
        pending_seconds=fact.seconds_in("pending", until),
        on_hold_seconds=fact.seconds_in("on_hold", until),
        ever_resolved=any(change.status in CLOSED for change in fact.statuses),
        first_contact_resolved=first_contact_resolved(fact),
    )
