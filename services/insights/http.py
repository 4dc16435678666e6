"""The insights service's HTTP API: figures per period and group, the tickets behind them, the
monthly category tree, and each as CSV. Operators see every team; leads and managers the
teams they lead or manage (`shared.access`, rule `reports`)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response

from services.insights.domain.categories import CategoryReport
from services.insights.domain.drill import Drill, TicketRow
from services.insights.domain.load import LoadReport, Step
from services.insights.domain.metrics import Dimension, Figures
from services.insights.service import InsightsService
from services.insights.service_reports import BadWindow
from shared.access import Access, Person
from shared.errors import unprocessable
from shared.periods import WHEN, Period, When

T = TypeVar("T")

#: The most rows one drill-down answers; the CSV export has them all.
DRILL_LIMIT = 1000

Since = Annotated[When | None, Query(description=f"{WHEN} Default: 30 days before `until`.")]
Until = Annotated[When | None, Query(description=f"{WHEN} Default: now.")]
Team = Annotated[str | None, Query(max_length=100, description="One team's tickets only.")]
Month = Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", description="`YYYY-MM`.")]


def teams_of(person: Person, team: str | None) -> frozenset[str] | None:
    """The teams a report covers: the one asked for, if it is the caller's; None is all."""
    if team is not None:
        if not person.operator and team not in person.teams:
            raise HTTPException(403, f"team {team} is not one of yours")
        return frozenset({team})
    return None if person.operator else person.teams


async def _answer(work: Awaitable[T]) -> T:
    try:
        return await work
    except BadWindow as exc:
        raise unprocessable(str(exc), "query", "since", kind="bad_window") from exc


#: How a CSV route documents its answer.
CSV: dict[str, Any] = {
    "response_class": Response,
    "responses": {
        200: {
            "description": "A CSV file, a header row first.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
}


def _csv(text: str, name: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def routes(insights: InsightsService, access: Access) -> APIRouter:
    router = APIRouter(prefix="/reports", tags=["reports"])
    Reports = Depends(access.reports)

    @router.get(
        "/figures",
        summary="First response, resolution, FCR, reopens, transfers, queue wait, SLA, backlog "
        "and CSAT per period and group.",
        description="Tickets count in the period they were opened in. Each figure's tickets "
        "are at `/reports/tickets` with the same window, dimension and group.",
    )
    async def figures(
        since: Since = None,
        until: Until = None,
        period: Period = "month",
        dimension: Dimension | None = None,
        team: Team = None,
        person: Person = Reports,
    ) -> list[Figures]:
        teams = teams_of(person, team)
        return await _answer(insights.figures(since, until, period, dimension, teams))

    @router.get("/figures.csv", summary="The same figures as CSV, a column per figure.", **CSV)
    async def figures_csv(
        since: Since = None,
        until: Until = None,
        period: Period = "month",
        dimension: Dimension | None = None,
        team: Team = None,
        person: Person = Reports,
    ) -> Response:
        teams = teams_of(person, team)
        text = await _answer(insights.figures_csv(since, until, period, dimension, teams))
        return _csv(text, "figures")

    @router.get(
        "/tickets",
        summary="The tickets behind a figure: opened in the window, in a group, meeting every "
        "condition given.",
        description=f"At most {DRILL_LIMIT} rows, oldest first; `/reports/tickets.csv` has "
        "them all.",
    )
    async def tickets(
        drill: Annotated[Drill, Query()],
        since: Since = None,
        until: Until = None,
        team: Team = None,
        person: Person = Reports,
    ) -> list[TicketRow]:
        teams = teams_of(person, team)
        rows: list[TicketRow] = []
        async for row in insights.tickets(since, until, drill, teams):
            rows.append(row)
            if len(rows) >= DRILL_LIMIT:
                break
        return rows

    @router.get("/tickets.csv", summary="The facts of every ticket selected, as CSV.", **CSV)
    async def tickets_csv(
        drill: Annotated[Drill, Query()],
        since: Since = None,
        until: Until = None,
        team: Team = None,
        person: Person = Reports,
    ) -> Response:
        teams = teams_of(person, team)
        text = await _answer(insights.tickets_csv(since, until, drill, teams))
        return _csv(text, "tickets")

    @router.get(
        "/load",
        summary="Each agent's tickets held open against their capacity, and each team's "
        "backlog, sampled every hour or day of the window.",
        description="An agent is over capacity at a sample when they hold more tickets of a "
        "channel than their capacity for it (`config/teams.yaml`).",
    )
    async def load(
        since: Since = None,
        until: Until = None,
        step: Step = "hour",
        team: Team = None,
        person: Person = Reports,
    ) -> LoadReport:
        return await _answer(insights.load(since, until, step, teams_of(person, team)))

    @router.get(
        "/categories",
        summary="The month's tickets as a tree of category, subcategory and item, with each "
        "level's count and share and the change from the month before.",
    )
    async def categories(
        month: Month, team: Team = None, person: Person = Reports
    ) -> CategoryReport:
        return await _answer(insights.categories(month, teams_of(person, team)))

    @router.get("/categories.csv", summary="The same tree as CSV, a row per node.", **CSV)
    async def categories_csv(month: Month, team: Team = None, person: Person = Reports) -> Response:
        text = await _answer(insights.categories_csv(month, teams_of(person, team)))
        return _csv(text, f"categories-{month}")

    return router
