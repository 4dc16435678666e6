"""The SLA service's HTTP API: a ticket's clocks, and compliance per metric, team and period."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query

from services.sla.domain.compliance import Period
from services.sla.domain.errors import BadWindow, NoClocks
from services.sla.domain.views import ComplianceReport, TicketSlaView
from services.sla.service import SlaService
from shared.access import Access, Person
from shared.errors import unprocessable
from shared.events.sla import Metric
from shared.periods import WHEN, When

T = TypeVar("T")

#: What each refusal of a use case answers.
ANSWERS: dict[type[Exception], int] = {NoClocks: 404, BadWindow: 422}


async def _answer(work: Awaitable[T]) -> T:
    try:
        return await work
    except tuple(ANSWERS) as exc:
        code = ANSWERS[type(exc)]
        if code == 422:  # A window that ends before it starts: 422's one shape.
            raise unprocessable(str(exc), "query", "since", kind="bad_window") from exc
        raise HTTPException(code, str(exc)) from exc


def routes(sla: SlaService, access: Access) -> APIRouter:
    router = APIRouter(tags=["sla"])
    Staff, Reports = Depends(access.staff), Depends(access.reports)

    @router.get("/tickets/{ticket_id}/sla", summary="The SLA clocks of one ticket.")
    async def ticket_sla(ticket_id: str, person: Person = Staff) -> TicketSlaView:
        view = await _answer(sla.ticket(ticket_id))
        if not person.sees_ticket(view.team, view.assignee_id):
            # Another team's ticket: as if it did not exist.
            raise HTTPException(404, str(NoClocks(ticket_id)))
        return view

    @router.get(
        "/compliance",
        summary="Targets met per metric, team, priority and period, with time used.",
        description="Operators see every team; leads and managers the teams they lead or "
        "manage (naming another team answers 403).",
    )
    async def compliance(
        since: Annotated[When | None, Query(description=f"{WHEN} Default: 30 days ago.")] = None,
        until: Annotated[When | None, Query(description=f"{WHEN} Default: now.")] = None,
        period: Period = "month",
        metric: Metric | None = None,
        team: Annotated[str | None, Query(max_length=100)] = None,
        priority: Annotated[str | None, Query(max_length=20)] = None,
        person: Person = Reports,
    ) -> ComplianceReport:
        teams = None if person.operator else person.teams
        if teams is not None and team is not None and team not in teams:
            raise HTTPException(403, f"team {team} is not one of yours")
        report = sla.compliance(
            since, until, period, metric=metric, team=team, priority=priority, teams=teams
        )
        return await _answer(report)

    return router
