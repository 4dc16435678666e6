"""Compliance figures: share of targets met, nearest-rank median and p90, periods, awaiting."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.sla.domain.compliance import percentile, period_of, summarise


def _result(
    outcome: str,
    used: float | None,
    decided: datetime,
    metric: str = "first_response",
    team: str | None = "technical",
    priority: str | None = "P3",
) -> dict[str, Any]:
    return {
        "metric": metric,
        "team": team,
        "priority": priority,
        "outcome": outcome,
        "used_seconds": used,
        "decided_at": decided,
    }


MON = datetime(2026, 11, 23, 10, tzinfo=UTC)
SUN = datetime(2026, 11, 22, 23, 59, tzinfo=UTC)


def test_percent_met_median_and_p90_by_nearest_rank() -> None:
    results = [_result("met", float(s), MON) for s in (400, 100, 300)]
    results.append(_result("breached", 900.0, MON))  # came late: counts in the times
    (group,) = summarise(results, "all")
    assert (group.total, group.met, group.breached, group.awaiting) == (4, 3, 1, 0)
    assert group.percent_met == 75.0
    # Sorted 100, 300, 400, 900: median rank ceil(0.5*4)=2 -> 300; p90 rank ceil(3.6)=4.
    assert (group.median_used_seconds, group.p90_used_seconds) == (300, 900)
    assert group.period == "all"


def test_nearest_rank_is_a_time_some_target_took() -> None:
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 0.5) == 5  # rank 5
    assert percentile(values, 0.9) == 9  # rank 9
    assert percentile([7.0], 0.9) == 7
    assert percentile([], 0.5) is None
    assert percentile([float(v) for v in range(1, 71)], 0.9) == 63  # rank 63


def test_breached_targets_still_waiting_are_awaiting_and_have_no_time() -> None:
    results = [_result("breached", None, MON), _result("met", 60.0, MON)]
    (group,) = summarise(results, "all")
    assert (group.total, group.breached, group.awaiting, group.percent_met) == (2, 1, 1, 50.0)
    assert group.median_used_seconds == group.p90_used_seconds == 60
    (only_waiting,) = summarise([_result("breached", None, MON)], "all")
    assert only_waiting.median_used_seconds is None and only_waiting.percent_met == 0


@pytest.mark.parametrize(
    ("period", "buckets"),
    [
        ("day", ["2026-11-22", "2026-11-23"]),
        ("week", ["2026-W47", "2026-W48"]),  # Sunday ends ISO week 47
        ("month", ["2026-11"]),
        ("all", ["all"]),
    ],
)
def test_results_are_bucketed_by_period(period: Any, buckets: list[str]) -> None:
    results = [_result("met", 10.0, SUN), _result("met", 20.0, MON)]
    assert [g.period for g in summarise(results, period)] == buckets


def test_iso_week_of_a_year_end_belongs_to_the_next_year() -> None:
    assert period_of(datetime(2026, 12, 31, tzinfo=UTC), "week") == "2026-W53"
    assert period_of(datetime(2027, 1, 4, tzinfo=UTC), "week") == "2027-W01"
    assert period_of(datetime(2025, 12, 29, tzinfo=UTC), "week") == "2026-W01"


def test_groups_are_split_by_metric_team_and_priority() -> None:
    results = [
        _result("met", 10.0, MON),
        _result("breached", 20.0, MON, metric="resolution"),
        _result("met", 30.0, MON, team="accounts"),
        _result("met", 40.0, MON, priority="P1"),
        _result("met", 50.0, MON, team=None, priority=None),
    ]
    groups = summarise(results, "month")
    keys = [(g.metric, g.team, g.priority, g.total) for g in groups]
    assert sorted(keys, key=str) == sorted(
        [
            ("first_response", "technical", "P3", 1),
            ("resolution", "technical", "P3", 1),
            ("first_response", "accounts", "P3", 1),
            ("first_response", "technical", "P1", 1),
            ("first_response", None, None, 1),
        ],
        key=str,
    )
    assert summarise([], "day") == []
