"""Compliance figures from finished targets: share met, median and p90 business time used."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field

from shared.periods import Period, percentile, period_of


class Compliance(BaseModel):
    """One group of finished targets: a metric, team, priority and period."""

    metric: str
    team: str | None
    priority: str | None
    period: str = Field(description="`2026-11`, `2026-W47`, `2026-11-22`, or `all`.")
    total: int = Field(description="Targets decided in the group.")
    met: int
    breached: int
    percent_met: float = Field(description="Met as a percentage of all decided.")
    median_used_seconds: float | None = Field(
        description="Median business time used, over targets whose reply or resolution came."
    )
    p90_used_seconds: float | None = Field(description="90th percentile of the same.")
    awaiting: int = Field(description="Breached targets still waiting for a reply or resolution.")


def summarise(results: Iterable[dict[str, Any]], period: Period) -> list[Compliance]:
    """Group finished targets by metric, team, priority and period."""
    groups: dict[tuple[str, str | None, str | None, str], list[dict[str, Any]]] = defaultdict(list)
    for result in results:
        key = (
            result["metric"],
            result.get("team"),
            result.get("priority"),
            period_of(result["decided_at"], period),
        )
        groups[key].append(result)
    summary: list[Compliance] = []
    for (metric, team, priority, bucket), items in sorted(
        groups.items(), key=lambda kv: tuple(str(k) for k in kv[0])
    ):
        met = sum(r["outcome"] == "met" for r in items)
        used = [r["used_seconds"] for r in items if r.get("used_seconds") is not None]
        summary.append(
            Compliance(
                metric=metric,
                team=team,
                priority=priority,
                period=bucket,
                total=len(items),
                met=met,
                breached=len(items) - met,
                percent_met=round(100 * met / len(items), 2),
                median_used_seconds=percentile(used, 0.5),
                p90_used_seconds=percentile(used, 0.9),
                awaiting=sum(
                    r["outcome"] == "breached" and r.get("used_seconds") is None for r in items
                ),
            )
        )
    return summary
