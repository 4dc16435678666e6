"""Report periods, percentiles and the date-times a report is asked for, the same in every
service's reports."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BeforeValidator

Period = Literal["day", "week", "month", "all"]


def period_of(instant: datetime, period: Period) -> str:
    """The period an instant falls in (UTC): `2026-11-22`, `2026-W47`, `2026-11` or `all`."""
    instant = instant.astimezone(UTC)
    if period == "day":
        return instant.date().isoformat()
    if period == "week":
        year, week, _ = instant.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{instant.year}-{instant.month:02d}"
    return "all"


def period_end(instant: datetime, period: Period) -> datetime | None:
    """The first instant after the period `instant` falls in (None for `all`)."""
    instant = instant.astimezone(UTC)
    midnight = instant.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return midnight + timedelta(days=1)
    if period == "week":
        return midnight + timedelta(days=7 - midnight.weekday())
    if period == "month":
        first = midnight.replace(day=1)
        return (
            first.replace(year=first.year + 1, month=1)
            if first.month == 12
            else (first.replace(month=first.month + 1))
        )
    return None


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile: a time some ticket actually took, never an interpolation."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


#: Reports cover these years: a date outside them is a typo or a probe, not a question.
EARLIEST, LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
_WRITTEN_OUT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _written_out(value: object) -> object:
    """ISO 8601 text only: pydantic would read a bare number (`0.5`) as unix seconds."""
    if isinstance(value, str) and not _WRITTEN_OUT.match(value):
        raise ValueError("expected an ISO 8601 date-time with its offset: 2026-01-05T09:00:00Z")
    return value


def _within_reports(value: datetime) -> datetime:
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"expected a date-time from {EARLIEST:%Y} to {LATEST:%Y}")
    return value


When = Annotated[AwareDatetime, BeforeValidator(_written_out), AfterValidator(_within_reports)]
WHEN = f"An ISO 8601 date-time with its offset, from {EARLIEST:%Y} to {LATEST:%Y}."
