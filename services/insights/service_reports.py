"""The insights service's reports: figures per period and group, the tickets behind them, the
monthly category tree, agents' load over time, and their CSV exports."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from services.insights.config import InsightsRules
from services.insights.domain.categories import CategoryNode, CategoryReport, category_report
from services.insights.domain.drill import Drill, TicketRow, row_of
from services.insights.domain.load import MAX_SAMPLES, LoadReport, Step, load_report, samples
from services.insights.domain.measures import measure
from services.insights.domain.metrics import Dimension, Figures, report
from services.insights.store import InsightsStore
from shared.business_calendar import Calendars
from shared.clock import Clock
from shared.periods import Period, period_end


class BadWindow(ValueError):
    """A report window that ends before it starts, or a month that is not `YYYY-MM`."""


def month_bounds(month: str) -> tuple[datetime, datetime, str]:
    """The month's first instant, the next month's, and the month before's name."""
    try:
        start = datetime.strptime(f"{month}-01+0000", "%Y-%m-%d%z")
    except ValueError as exc:
        raise BadWindow(f"month must be YYYY-MM, not {month!r}") from exc
    end = period_end(start, "month")
    assert end is not None
    before = start - timedelta(days=1)
    return start, end, f"{before.year}-{before.month:02d}"


#: Spreadsheets run a cell that starts with one of these as a formula.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def csv_text(header: list[str], rows: Iterable[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return out.getvalue()


def _flat(model: BaseModel, prefix: str = "") -> dict[str, Any]:
    """A figure's fields as columns: `first_response.median`, `sla.resolution.met`, …"""
    flat: dict[str, Any] = {}
    for name, value in model:
        if isinstance(value, BaseModel):
            flat.update(_flat(value, f"{prefix}{name}."))
        elif isinstance(value, dict):
            for key, inner in sorted(value.items()):
                flat.update(_flat(inner, f"{prefix}{name}.{key}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


class ReportCases:
    """The reports, over the service's store (a part of `InsightsService`)."""

    store: InsightsStore
    rules: InsightsRules
    calendars: Calendars
    clock: Clock

    def _window(self, since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
        now = self.clock.now()
        until = until or now
        since = since or until - timedelta(days=30)
        if until <= since:
            raise BadWindow(
                f"until ({until.isoformat()}) must be after since ({since.isoformat()})"
            )
        return since, until

    async def figures(
        self,
        since: datetime | None,
        until: datetime | None,
        period: Period,
        dimension: Dimension | None,
        teams: frozenset[str] | None,
    ) -> list[Figures]:
        since, until = self._window(since, until)
        facts = [f async for f in self.store.open_during(since, until, teams)]
        return report(
            facts,
            since=since,
            until=until,
            period=period,
            dimension=dimension,
            calendars=self.calendars,
            now=self.clock.now(),
        )

    async def load(
        self,
        since: datetime | None,
        until: datetime | None,
        step: Step,
        teams: frozenset[str] | None,
    ) -> LoadReport:
        """Each agent's load against capacity, and each team's backlog, over the window."""
        since, until = self._window(since, until)
        if len(samples(since, until, step)) >= MAX_SAMPLES:
            raise BadWindow(f"at most {MAX_SAMPLES} samples: a shorter window or a longer step")
        facts = [f async for f in self.store.open_during(since, until, teams)]
        return load_report(facts, since=since, until=until, step=step,
                           directory=self.rules.directory, teams=teams)  # fmt: skip

    async def figures_csv(self, *args: Any) -> str:
        figures = await self.figures(*args)
        flat = [_flat(f) for f in figures]
        header = list(dict.fromkeys(k for row in flat for k in row))
        return csv_text(header, ([row.get(k) for k in header] for row in flat))

    async def tickets(
        self,
        since: datetime | None,
        until: datetime | None,
        drill: Drill,
        teams: frozenset[str] | None,
    ) -> AsyncIterator[TicketRow]:
        """The tickets opened in the window that the drill-down's conditions select."""
        since, until = self._window(since, until)
        now = self.clock.now()
        async for fact in self.store.opened_between(since, until, teams, drill):
            measures = measure(fact, self.calendars, now)
            if drill.matches(fact, measures):
                yield row_of(fact, measures)

    async def tickets_csv(self, *args: Any) -> str:
        rows = [row async for row in self.tickets(*args)]
        header = list(TicketRow.model_fields)
        return csv_text(header, ([getattr(r, k) for k in header] for r in rows))

    async def categories(self, month: str, teams: frozenset[str] | None) -> CategoryReport:
        start, end, previous = month_bounds(month)
        before, _, _ = month_bounds(previous)
        this = await self.store.category_counts(start, end, teams)
        last = await self.store.category_counts(before, start, teams)
        return category_report(month, previous, this, last)

    async def categories_csv(self, month: str, teams: frozenset[str] | None) -> str:
        tree = await self.categories(month, teams)
        rows: list[list[Any]] = []

        def walk(nodes: list[CategoryNode], depth: int) -> None:
            for node in nodes:
                rows.append([
                    tree.month, depth, node.path, node.count, node.share,
                    node.previous_count, node.previous_share, node.change, node.share_change,
                ])  # fmt: skip
                walk(node.children, depth + 1)

        walk(tree.categories, 1)
        header = [
            "month", "level", "path", "count", "share",
            "previous_count", "previous_share", "change", "share_change",
        ]  # fmt: skip
        return csv_text(header, rows)
