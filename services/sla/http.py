"""The SLA service's HTTP API: a ticket's clocks, and compliance per metric, team and period."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, TypeVar

from fastapi import APIRouter, HTTPException, Query
from pydantic import AwareDatetime

from services.sla.domain.compliance import Period
from services.sla.domain.errors import BadWindow, NoClocks
from services.sla.domain.views import ComplianceReport, TicketSlaView
from services.sla.service import SlaService
from shared.events.sla import Metric

T = TypeVar("T")

#: What each refusal of a use case answers.
ANSWERS: dict[type[Exception], int] = {NoClocks: 404, BadWindow: 422}


async def _answer(work: Awaitable[T]) -> T:
    try:
        return await work
    except tuple(ANSWERS) as exc:
        raise HTTPException(ANSWERS[type(exc)], str(exc)) from exc


def routes(sla: SlaService) -> APIRouter:
    router = APIRouter(tags=["sla"])

    @router.get("/tickets/{ticket_id}/sla", summary="The SLA clocks of one ticket.")
    async def ticket_sla(ticket_id: str) -> TicketSlaView:
        return await _answer(sla.ticket(ticket_id))

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
        report = sla.compliance(since, until, period, metric=metric, team=team, priority=priority)
        return await _answer(report)

    return router
