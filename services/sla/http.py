"""The SLA service's HTTP API: a ticket's clocks, and compliance per metric, team and period."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import AwareDatetime, BaseModel, Field

from services.sla.compliance import Compliance, Period, summarise
from services.sla.domain import Rules
from services.sla.store import SlaStore
from shared.clock import Clock
from shared.events.sla import Colour, Metric


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


def routes(store: SlaStore, rules: Rules, clock: Clock) -> APIRouter:
    router = APIRouter(tags=["sla"])

    @router.get("/tickets/{ticket_id}/sla", summary="The SLA clocks of one ticket.")
    async def ticket_sla(ticket_id: str) -> TicketSlaView:
        stored = await store.get(ticket_id)
        if stored is None or not stored[0].started:
            raise HTTPException(404, f"no SLA clocks for ticket {ticket_id}: not routed yet?")
        ticket, _ = stored
        calendar = rules.calendar_of(ticket)
        now = clock.now()
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

    @router.get(
        "/compliance",
        summary="Targets met per metric, team, priority and period, with time used.",
    )
    async def compliance(
        since: Annotated[AwareDatetime | None, Query(description="Default: 30 days ago.")] = None,
        until: Annotated[AwareDatetime | None, Query(description="Default: now.")] = None,
        period: Period = "month",
        metric: Metric | None = None,
        team: str | None = None,
        priority: str | None = None,
    ) -> ComplianceReport:
        until = until or clock.now()
        since = since or until - timedelta(days=30)
        if since >= until:
            raise HTTPException(422, f"since ({since}) must be before until ({until})")
        query: dict[str, object] = {"decided_at": {"$gte": since, "$lt": until}}
        for name, value in (("metric", metric), ("team", team), ("priority", priority)):
            if value is not None:
                query[name] = value
        results = await store.results(query)
        return ComplianceReport(
            since=since, until=until, period=period, groups=summarise(results, period)
        )

    return router
