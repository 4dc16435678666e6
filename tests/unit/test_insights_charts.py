"""The reports page's charts: each a static SVG (no script, width and height set) that shows its
series' labels and values, keeps markup in a label as text, and reads "No tickets" when there is
nothing to draw."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.insights import charts
from services.insights.charts import CHARTS, CategoryChart, LoadChart
from services.insights.domain.categories import CategoryReport, category_report, paths_of
from services.insights.domain.facts import TicketFact
from services.insights.domain.fold import apply
from services.insights.domain.load import LoadReport, load_report
from services.insights.domain.metrics import Dimension, Figures, report
from shared.business_calendar import Calendars
from shared.directory import load_directory
from shared.events import (
    Event,
    SlaBreached,
    SlaMet,
    TicketAgentReplied,
    TicketAssigned,
    TicketCsatReceived,
    TicketOpened,
    TicketRouted,
    TicketStatusChanged,
)

ROOT = Path(__file__).resolve().parents[2]
CALENDARS = Calendars.model_validate(
    {"default": "24x7", "calendars": {"24x7": {"timezone": "UTC", "always_open": True}}}
)
#: Monday of ISO week 46 of 2026; the report runs two weeks from it.
SINCE = datetime(2026, 11, 9, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=14)
NOW = datetime(2026, 12, 5, tzinfo=UTC)
MARKUP = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def _ticket(
    t: str,
    opened: datetime,
    team: str,
    category: str,
    *,
    agent: str | None = "ag-maria",
    reply_hours: float | None = 1,
    resolved: bool = True,
    csat: int | None = None,
    sla: str | None = None,
) -> TicketFact:
    hour = timedelta(hours=1)
    events: list[Event] = [
        TicketOpened(ticket_id=t, reference=f"HD-{t}", contact_id=f"c-{t}",
                     customer_id=f"cu-{t}", channel="email", occurred_at=opened),
        TicketRouted(ticket_id=t, category=category, impact="low", urgency="low", priority="P3",
                     tier="L1", team=team, reason="rules", occurred_at=opened),
        *([TicketAssigned(ticket_id=t, agent_id=agent, team=team, reason="free",
                          occurred_at=opened + timedelta(minutes=1))] if agent else []),
        *([TicketAgentReplied(ticket_id=t, agent_id=agent or "ag-maria", body="ok",
                              occurred_at=opened + reply_hours * hour)]
          if reply_hours is not None else []),
        *([TicketStatusChanged(ticket_id=t, status="resolved",
                               occurred_at=opened + 4 * hour)] if resolved else []),
        *([TicketCsatReceived(ticket_id=t, score=csat,
                              occurred_at=opened + 5 * hour)] if csat is not None else []),
        *([SlaMet(ticket_id=t, metric="first_response", due_at=opened, used_seconds=60,
                  occurred_at=opened + hour)] if sla == "met" else []),
        *([SlaBreached(ticket_id=t, metric="first_response", due_at=opened, late_by_seconds=60,
                       occurred_at=opened + 2 * hour)] if sla == "breached" else []),
    ]  # fmt: skip
    fact: TicketFact | None = None
    for event in events:
        fact = apply(fact, event)
    assert fact is not None
    return fact


FACTS = [
    _ticket("t1", SINCE + timedelta(days=1), "technical", "network", csat=5, sla="met"),
    _ticket("t2", SINCE + timedelta(days=2), "technical", "network", csat=4, sla="breached"),
    _ticket("t3", SINCE + timedelta(days=8), "accounts", "billing", agent="ag-john", csat=2,
            sla="met"),
    _ticket("t4", SINCE + timedelta(days=9), "accounts", "billing", agent=None,
            reply_hours=None, resolved=False),
]  # fmt: skip


def _figures(dimension: Dimension | None, facts: Sequence[TicketFact] = FACTS) -> list[Figures]:
    return report(
        facts,
        since=SINCE,
        until=UNTIL,
        period="all" if dimension else "week",
        dimension=dimension,
        calendars=CALENDARS,
        now=NOW,
    )


def _tree(
    facts: Sequence[TicketFact] = FACTS, before: Sequence[TicketFact] = FACTS[:1]
) -> CategoryReport:
    return category_report("2026-11", "2026-10", paths_of(facts), paths_of(before))


def _parsed(svg: str) -> ET.Element:
    """The SVG as XML, checked static: no script, no element that could load or run markup."""
    root = ET.fromstring(svg.encode())
    tags = {element.tag.rsplit("}", 1)[-1] for element in root.iter()}
    assert not tags & {"script", "foreignObject", "iframe", "img", "image", "use"}, tags
    assert "<script" not in svg.lower()
    assert (root.get("width"), root.get("height")) == ("720", "360")
    return root


def _texts(svg: str) -> list[str]:
    root = _parsed(svg)
    return ["".join(e.itertext()) for e in root.iter() if e.tag.endswith("}text")]


def test_volume_shows_each_week_with_its_tickets_and_backlog() -> None:
    texts = _texts(charts.volume(_figures(None)))

    assert {"2026-W46", "2026-W47", "Opened", "Backlog at the period's end"} <= set(texts)
    # Two tickets opened each week; one still open at the second week's end.
    assert texts.count("2") >= 2
    assert "1" in texts
    assert "Tickets opened and backlog" in texts


def test_rates_times_and_csat_print_their_values_in_their_units() -> None:
    weeks = _figures(None)

    rates = _texts(charts.rates(weeks))
    assert "100%" in rates and "50%" in rates  # week 47: one of two resolved
    times = _texts(charts.times(weeks))
    assert "1.0 h" in times  # every first reply came after an hour, round the clock
    assert "4.0 h" in times
    csat = _texts(charts.csat(weeks))
    assert "4.50" in csat and "2.00" in csat


def test_category_chart_sets_the_month_beside_the_one_before() -> None:
    texts = _texts(charts.categories(_tree()))

    assert "Categories in 2026-11, beside 2026-10" in texts
    assert {"network", "billing", "2026-11", "2026-10"} <= set(texts)


def test_team_charts_show_sla_compliance_and_csat_per_team() -> None:
    teams = _figures("team")

    sla = _texts(charts.sla(teams))
    assert {"technical", "accounts", "First response"} <= set(sla)
    assert "50%" in sla and "100%" in sla
    csat = _texts(charts.csat_per_team(teams))
    assert {"technical", "accounts", "4.50", "2.00"} <= set(csat)
    assert "100%" in csat  # technical: both resolved tickets answered the survey


def test_agents_chart_names_each_agent_and_the_unassigned() -> None:
    texts = _texts(charts.agents(_figures("agent")))

    assert {"ag-maria", "ag-john", "(unassigned)", "Tickets opened"} <= set(texts)


def test_markup_in_a_category_is_drawn_as_text() -> None:
    fact = _ticket("t-x", SINCE + timedelta(days=1), "technical", MARKUP)
    tree = _tree([fact], [])

    svg = charts.categories(tree)

    assert MARKUP in _texts(svg)
    assert "<img" not in svg


def _load(facts: Sequence[TicketFact] = FACTS) -> LoadReport:
    directory = load_directory(ROOT / "config")
    return load_report(facts, since=SINCE, until=UNTIL, step="day", directory=directory,
                       teams=None)  # fmt: skip


@pytest.mark.parametrize("name", list(CHARTS))
def test_with_no_tickets_every_chart_reads_no_tickets(name: str) -> None:
    chart = CHARTS[name]
    if isinstance(chart, CategoryChart):
        svg = chart.draw(_tree([], []))
    elif isinstance(chart, LoadChart):
        svg = chart.draw(_load([]))
    else:
        svg = chart.draw(_figures(chart.dimension, []))

    assert any(text.startswith("No ") for text in _texts(svg))


def test_the_load_charts_draw_each_busy_agent_and_each_team() -> None:
    held = []
    for fact in FACTS[:3]:
        assigned = TicketAssigned(
            ticket_id=fact.ticket_id,
            agent_id="ag-maria",
            team="technical",
            reason="free",
            occurred_at=SINCE + timedelta(hours=1),
        )
        held.append(apply(fact, assigned))
    report = _load(held)
    load_texts, backlog_texts = _texts(charts.load(report)), _texts(charts.backlog(report))
    assert any(t.startswith("Maria Nikolaou (capacity ") for t in load_texts), load_texts
    assert "technical: open" in backlog_texts and "technical: unassigned" in backlog_texts
    assert "<script" not in charts.load(report)


@pytest.mark.parametrize("name", [n for n, c in CHARTS.items() if not isinstance(c, LoadChart)])
def test_every_chart_of_the_page_draws_from_its_report(name: str) -> None:
    chart = CHARTS[name]
    if isinstance(chart, CategoryChart):
        svg = chart.draw(_tree())
    elif isinstance(chart, LoadChart):
        raise AssertionError("drawn by its own test")
    else:
        svg = chart.draw(_figures(chart.dimension))

    texts = _texts(svg)
    assert not any(text.startswith("No ") for text in texts)
    assert any(text in texts for text in ("technical", "network", "2026-W46", "ag-maria"))
