"""The reports page (`GET /reports/page`): the figures as charts and tables, each figure linked to
the tickets behind it; and the charts it shows, as static SVG (`GET /reports/charts/{name}.svg`).

The page is plain HTML, CSS and JavaScript under `page/`, public because it carries no data: its
script reads the person's token from the address's fragment and calls the `reports` routes
with it, so each person sees the teams `shared.access` lets them see.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.responses import Response

from services.insights.charts import CHARTS, CategoryChart, Chart, LoadChart
from services.insights.domain.load import Step
from services.insights.http import Since, Team, Until, teams_of
from services.insights.service import InsightsService
from services.insights.service_reports import BadWindow
from shared.access import Access, Person
from shared.errors import unprocessable
from shared.pages import serve_page
from shared.periods import Period

ASSETS = Path(__file__).with_name("page")

#: Only the page's own files may run or style it, and its charts are images of blob URLs:
#: nothing a ticket carries (a category, a reference) can become markup or script.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob:; script-src 'self'; style-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # The page carries no data, but a token may sit in its address until the script reads it.
    "Cache-Control": "no-store",
}
#: A chart opened on its own runs nothing either: its styles are its own, inline.
CHART_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
#: How the chart route documents its answer.
SVG: dict[str, Any] = {
    "response_class": Response,
    "responses": {
        200: {
            "description": "A static SVG image (no script).",
            "content": {"image/svg+xml": {"schema": {"type": "string"}}},
        }
    },
}

ChartName = Annotated[
    str,
    PathParam(
        description="Which chart: " + ", ".join(f"`{n}`" for n in CHARTS) + ".",
        json_schema_extra={"enum": list(CHARTS)},
    ),
]
ChartPeriod = Annotated[
    Period,
    Query(description="The trend charts' period; the per-team and per-agent charts cover the "
          "whole window."),
]  # fmt: skip
ChartMonth = Annotated[
    str | None,
    Query(pattern=r"^\d{4}-\d{2}$", description="The category chart's month, `YYYY-MM`. "
          "Default: this month."),
]  # fmt: skip


def _this_month(now: datetime) -> str:
    return f"{now.year}-{now.month:02d}"


async def _svg(
    insights: InsightsService,
    chart: Chart,
    window: tuple[datetime | None, datetime | None],
    period: Period,
    month: str | None,
    teams: frozenset[str] | None,
) -> str:
    if isinstance(chart, CategoryChart):
        month = month or _this_month(insights.clock.now())
        return chart.draw(await insights.categories(month, teams))
    if isinstance(chart, LoadChart):
        # Hours for a day's window, days for longer ones.
        step: Step = "hour" if period == "day" else "day"
        return chart.draw(await insights.load(*window, step, teams))
    # Per team or agent, one value per group: over the whole window, not per period.
    period = "all" if chart.dimension else period
    return chart.draw(await insights.figures(*window, period, chart.dimension, teams))


def routes(insights: InsightsService, access: Access) -> APIRouter:
    router = APIRouter(prefix="/reports")
    public = [Depends(access.public)]
    Reports = Depends(access.reports)
    serve_page(router, "/page", ASSETS, headers=PAGE_HEADERS, dependencies=public)

    @router.get(
        "/charts/{name}.svg",
        tags=["reports"],
        summary="One chart of the reports page, as a static SVG image.",
        description="The figures of `/reports/figures` (per period; per team or agent over the "
        "window) or the tree of `/reports/categories`, for the same people.",
        **SVG,
    )
    async def chart(
        name: ChartName,
        since: Since = None,
        until: Until = None,
        period: ChartPeriod = "month",
        month: ChartMonth = None,
        team: Team = None,
        person: Person = Reports,
    ) -> Response:
        drawn = CHARTS.get(name)
        if drawn is None:
            raise HTTPException(404, f"no chart {name!r}; there are: {', '.join(CHARTS)}")
        teams = teams_of(person, team)
        try:
            svg = await _svg(insights, drawn, (since, until), period, month, teams)
        except BadWindow as exc:
            field = "month" if isinstance(drawn, CategoryChart) else "since"
            raise unprocessable(str(exc), "query", field, kind="bad_window") from exc
        return Response(svg, media_type="image/svg+xml", headers=CHART_HEADERS)

    return router
