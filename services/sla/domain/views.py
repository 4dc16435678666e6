"""What the SLA service shows of a ticket's clocks and of its compliance, as of a moment."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from services.sla.domain.compliance import Compliance, Period
from services.sla.domain.ticket import Rules, TicketSla
from shared.events.sla import Colour


class ClockView(BaseModel):
    metric: str
    cycle: int
    status: str
    started_at: datetime
    due_at: datetime | None
    target_seconds: float
    used_seconds: float = Field(description="Business time used, as of the request.")
    remaining_seconds: float = Field(description="Business time left (negative when late).")
    warned: list[int]
    breached_at: datetime | None
    satisfied_at: datetime | None


class TicketSlaView(BaseModel):
    ticket_id: str
    state: str
    colour: Colour
    policy: str | None
    calendar: str | None
    team: str | None
    assignee_id: str | None = None
    priority: str | None
    category: str | None
    plan: str
    next_at: datetime | None
    clocks: list[ClockView]


class ComplianceReport(BaseModel):
    since: datetime
    until: datetime
    period: Period
    groups: list[Compliance]


def ticket_view(ticket: TicketSla, rules: Rules, now: datetime) -> TicketSlaView:
    """The ticket's clocks with the business time used and left at `now`."""
    calendar = rules.calendar_of(ticket)
    views = []
    for c in ticket.clocks:
        used = c.used_at(calendar, now)
        views.append(
            ClockView(
                metric=c.metric,
                cycle=c.cycle,
                status=c.status,
                started_at=c.started_at,
                due_at=c.due_at,
                target_seconds=c.target.total_seconds(),
                used_seconds=used.total_seconds(),
                remaining_seconds=(c.target - used).total_seconds(),
                warned=list(c.warned),
                breached_at=c.breached_at,
                satisfied_at=c.satisfied_at,
            )
        )
    return TicketSlaView(**ticket.model_dump(exclude={"clocks"}), clocks=views)
