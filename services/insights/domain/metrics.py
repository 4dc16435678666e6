"""The service's figures per period and group: times, rates, SLA compliance, backlog, CSAT.

Figures count tickets, never events: a ticket belongs to the period it was opened in, and a
reopened ticket is one ticket with a reopen, not two. Rates are over the period's tickets
(resolution), over the resolved ones (first-contact resolution, CSAT responses), or over the
ones resolved at least once (reopens). The backlog is the group's tickets open at the
period's end, whenever they were opened.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.insights.domain.facts import CLOSED, TicketFact
from services.insights.domain.measures import Measures, measure
from shared.business_calendar import Calendars
from shared.periods import Period, percentile, period_end, period_of

Dimension = Literal[
    "team", "agent", "channel", "language", "priority", "tier", "plan",
    "category", "subcategory", "item",
]  # fmt: skip
DIMENSIONS: tuple[Dimension, ...] = (
    "team", "agent", "channel", "language", "priority", "tier", "plan",
    "category", "subcategory", "item",
)  # fmt: skip


class Spread(BaseModel):
    """How long something took over a group's tickets: seconds, nearest-rank percentiles."""

    count: int = Field(description="Tickets the figure is over.")
    median: float | None
    p90: float | None


class TargetFigures(BaseModel):
    met: int
    breached: int
    percent_met: float | None


class Figures(BaseModel):
    """One period and group."""

    period: str = Field(description="`2026-11`, `2026-W47`, `2026-11-22`, or `all`.")
    group: str | None = Field(description="The group's value of the dimension; none: all.")
    since: datetime = Field(description="The period's start (within the report's window).")
    until: datetime = Field(description="The period's end, or the window's.")
    tickets: int = Field(description="Tickets opened in the period.")
    resolved: int = Field(description="Of those, resolved or closed now.")
    resolution_rate: float | None
    first_response: Spread = Field(description="Opened to the first agent reply, calendar time.")
    first_response_business: Spread = Field(description="The same in business time.")
    resolve: Spread = Field(description="Opened to the last resolution, calendar time.")
    resolve_business: Spread = Field(description="The same in business time.")
    first_contact_resolved: int = Field(
        description="Resolved with one agent reply, no transfer and never reopened."
    )
    first_contact_resolution_rate: float | None = Field(description="Share of the resolved.")
    reopened: int = Field(description="Tickets reopened at least once.")
    reopen_rate: float | None = Field(description="Share of the tickets ever resolved.")
    transfers_per_ticket: float | None
    queue_wait: Spread = Field(description="Opened to the first assignment.")
    sla: dict[str, TargetFigures] = Field(description="Per target: first_response, resolution…")
    backlog: int = Field(description="The group's tickets open at the period's end.")
    csat_responses: int
    csat_average: float | None
    csat_response_rate: float | None = Field(description="Answers per resolved ticket.")


def group_of(fact: TicketFact, dimension: Dimension | None) -> str | None:
    if dimension is None:
        return None
    if dimension == "agent":
        return fact.agent_id
    if dimension == "subcategory":
        return f"{fact.category}/{fact.subcategory}" if fact.subcategory else fact.category
    if dimension == "item":
        path = [p for p in (fact.category, fact.subcategory, fact.item) if p]
        return "/".join(path) if path else None
    value = getattr(fact, dimension)
    return value if isinstance(value, str) else None


def _spread(values: Iterable[float | None]) -> Spread:
    known = [v for v in values if v is not None]
    return Spread(count=len(known), median=percentile(known, 0.5), p90=percentile(known, 0.9))


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _figures(
    span: Span, group: str | None, rows: Sequence[tuple[TicketFact, Measures]], backlog: int
) -> Figures:
    resolved = [(f, m) for f, m in rows if f.resolved]
    ever = [(f, m) for f, m in rows if m.ever_resolved]
    reopened = sum(1 for f, _ in rows if f.reopened)
    fcr = sum(1 for _, m in resolved if m.first_contact_resolved)
    scores = [f.csat_score for f, _ in rows if f.csat_score is not None]
    targets: dict[str, list[str]] = defaultdict(list)
    for fact, _ in rows:
        for metric, target in fact.sla.items():
            targets[metric].append(target.outcome)
    return Figures(
        period=span.name,
        group=group,
        since=span.since,
        until=span.until,
        tickets=len(rows),
        resolved=len(resolved),
        resolution_rate=_rate(len(resolved), len(rows)),
        first_response=_spread(m.first_response_seconds for _, m in rows),
        first_response_business=_spread(m.first_response_business_seconds for _, m in rows),
        resolve=_spread(m.resolve_seconds for _, m in resolved),
        resolve_business=_spread(m.resolve_business_seconds for _, m in resolved),
        first_contact_resolved=fcr,
        first_contact_resolution_rate=_rate(fcr, len(resolved)),
        reopened=reopened,
        reopen_rate=_rate(reopened, len(ever)),
        transfers_per_ticket=_rate(sum(f.transfers for f, _ in rows), len(rows)),
        queue_wait=_spread(m.queue_wait_seconds for _, m in rows),
        sla={
            metric: TargetFigures(
                met=outcomes.count("met"),
                breached=outcomes.count("breached"),
                percent_met=_rate(100 * outcomes.count("met"), len(outcomes)),
            )
            for metric, outcomes in sorted(targets.items())
        },
        backlog=backlog,
        csat_responses=len(scores),
        csat_average=round(sum(scores) / len(scores), 4) if scores else None,
        csat_response_rate=_rate(len(scores), len(resolved)),
    )


@dataclass(frozen=True, slots=True)
class Span:
    name: str
    since: datetime
    until: datetime


def periods_between(since: datetime, until: datetime, period: Period) -> list[Span]:
    """Each period from `since` to `until`, clipped to them; a backlog is counted at the end."""
    found: list[Span] = []
    instant = since
    while instant < until:
        end = period_end(instant, period)
        found.append(Span(period_of(instant, period), instant, min(end, until) if end else until))
        if end is None:
            break
        instant = end
    return found


def report(
    facts: Iterable[TicketFact],
    *,
    since: datetime,
    until: datetime,
    period: Period,
    dimension: Dimension | None,
    calendars: Calendars,
    now: datetime,
) -> list[Figures]:
    """Figures per period in [since, until) and per group of `dimension`.

    `facts` are the tickets open at some point of the window (the store reads just those);
    those opened in it are the periods' tickets, and all of them count in the backlogs.
    """
    spans = {span.name: span for span in periods_between(since, until, period)}
    cohorts: dict[tuple[str, str | None], list[tuple[TicketFact, Measures]]] = defaultdict(list)
    backlog: dict[tuple[str, str | None], int] = defaultdict(int)
    for fact in facts:
        if fact.opened_at is None:
            continue  # Routing or SLA events read before the ticket's opening.
        group = group_of(fact, dimension)
        if since <= fact.opened_at < until:
            cohorts[(period_of(fact.opened_at, period), group)].append(
                (fact, measure(fact, calendars, now))
            )
        for span in spans.values():
            status = fact.status_at(min(span.until, now))
            if status is not None and status not in CLOSED and fact.opened_at < span.until:
                backlog[(span.name, group)] += 1
    keys = sorted(set(cohorts) | set(backlog), key=lambda k: (k[0], k[1] or ""))
    return [_figures(spans[name], group, cohorts.get((name, group), []), backlog[(name, group)])
            for name, group in keys]  # fmt: skip
