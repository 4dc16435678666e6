"""When each manager's monthly report is due: on the first working day of the month, on the
calendar of the first team they manage, a set time after it opens; and the report's lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.insights.domain.categories import CategoryNode, CategoryReport
from shared.business_calendar import BusinessCalendar
from shared.events import CategoryLine

#: The tree's depth a mail shows: category, subcategory, item.
DEPTH = 3


def month_start(instant: datetime) -> datetime:
    instant = instant.astimezone(UTC)
    return instant.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def previous_month(start: datetime) -> str:
    before = start - timedelta(days=1)
    return f"{before.year}-{before.month:02d}"


def due_at(calendar: BusinessCalendar, now: datetime, after_opening: timedelta) -> datetime:
    """When this month's report (of the month before) is due on `calendar`."""
    start = month_start(now)
    # The first open instant at or after the month's start: a second of business time in,
    # less that second.
    opening = calendar.add(start, timedelta(seconds=1)) - timedelta(seconds=1)
    return opening + after_opening


def lines_of(report: CategoryReport) -> list[CategoryLine]:
    """The tree's nodes, depth first."""
    out: list[CategoryLine] = []

    def walk(nodes: list[CategoryNode]) -> None:
        for node in nodes:
            out.append(
                CategoryLine(path=node.path, count=node.count, share=node.share, change=node.change)
            )
            walk(node.children)

    walk(report.categories)
    return out
