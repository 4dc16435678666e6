"""The reports page's charts, drawn server-side as static SVG (pygal, no JavaScript), and the
table of them that the page and `GET /reports/charts/{name}.svg` go by."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pygal
from pygal.graph.graph import Graph
from pygal.style import Style

from services.insights.domain.categories import CategoryReport
from services.insights.domain.load import LoadReport
from services.insights.domain.metrics import Dimension, Figures

#: Okabe and Ito's palette, which reads the same to the colour-blind; every value is printed
#: too, so no figure is told by colour alone.
STYLE = Style(
    font_family="system-ui, 'Segoe UI', 'Noto Sans', 'DejaVu Sans', sans-serif",
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1d2129",
    foreground_strong="#1d2129",
    foreground_subtle="#5b6270",
    colors=("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000"),
    title_font_size=16,
    legend_font_size=12,
    label_font_size=11,
    major_label_font_size=11,
    value_font_size=11,
    no_data_font_size=22,
)
NO_TICKETS = "No tickets"
#: How targets are named on the page; one not listed shows its own name.
TARGET_NAMES = {
    "first_response": "First response",
    "next_reply": "Next reply",
    "resolution": "Resolution",
}


def _no_scripts(root: Any) -> Any:
    """pygal writes its config into a `<script>` even with `js=[]`; a static chart needs none."""
    for script in [e for e in root.iter() if str(e.tag).rsplit("}", 1)[-1] == "script"]:
        script.getparent().remove(script)
    return root


def _chart(kind: type[Graph], title: str, labels: Sequence[str], **config: Any) -> Graph:
    chart = kind(
        title=title,
        style=STYLE,
        js=[],
        width=720,
        height=360,
        # Width and height on the root, so an <img> of it has a natural size.
        explicit_size=True,
        legend_at_bottom=True,
        print_values=config.pop("print_values", True),
        truncate_label=-1,
        truncate_legend=-1,
        no_data_text=config.pop("no_data_text", NO_TICKETS),
        x_label_rotation=30 if len(labels) > 6 else 0,
        max_scale=8,
        **config,
    )
    chart.x_labels = list(labels)
    chart.add_xml_filter(_no_scripts)
    return chart


def _render(chart: Graph) -> str:
    return str(chart.render(is_unicode=True))


def _percent(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 1)


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 1)


def _as(pattern: str) -> Callable[[float | None], str]:
    return lambda value: "" if value is None else pattern.format(value)


def _by_period(figures: Iterable[Figures]) -> list[Figures]:
    return sorted(figures, key=lambda f: f.period)


def _label(group: str | None, nobody: str) -> str:
    return nobody if group is None else group


# -- trends per period -------------------------------------------------------------------------


def volume(figures: Sequence[Figures]) -> str:
    rows = _by_period(figures)
    chart = _chart(pygal.Bar, "Tickets opened and backlog", [f.period for f in rows])
    if rows:
        chart.add("Opened", [f.tickets for f in rows])
        chart.add("Backlog at the period's end", [f.backlog for f in rows])
    return _render(chart)


def rates(figures: Sequence[Figures]) -> str:
    rows = _by_period(figures)
    chart = _chart(
        pygal.Line, "Resolution and first-contact resolution", [f.period for f in rows],
        range=(0, 100), value_formatter=_as("{:.0f}%"),
    )  # fmt: skip
    if rows:
        chart.add("Resolved", [_percent(f.resolution_rate) for f in rows])
        chart.add("Resolved at first contact", [_percent(f.first_contact_resolution_rate)
                                                for f in rows])  # fmt: skip
    return _render(chart)


def times(figures: Sequence[Figures]) -> str:
    rows = _by_period(figures)
    chart = _chart(
        pygal.Line, "Medians in business hours", [f.period for f in rows],
        include_x_axis=True, value_formatter=_as("{:.1f} h"),
    )  # fmt: skip
    if rows:
        chart.add("First response", [_hours(f.first_response_business.median) for f in rows])
        chart.add("Time to resolve", [_hours(f.resolve_business.median) for f in rows])
    return _render(chart)


def csat(figures: Sequence[Figures]) -> str:
    rows = _by_period(figures)
    chart = _chart(
        pygal.Line, "CSAT average (1 to 5)", [f.period for f in rows],
        range=(1, 5), value_formatter=_as("{:.2f}"),
    )  # fmt: skip
    if any(f.csat_average is not None for f in rows):
        chart.add("CSAT average", [f.csat_average for f in rows])
    return _render(chart)


# -- the month's categories --------------------------------------------------------------------


def categories(report: CategoryReport) -> str:
    # The largest on top: a horizontal bar chart draws its first label at the bottom.
    nodes = list(reversed(report.categories))
    chart = _chart(
        pygal.HorizontalBar,
        f"Categories in {report.month}, beside {report.previous_month}",
        [n.name for n in nodes],
        no_data_text=f"{NO_TICKETS} in {report.month}",
    )
    if nodes:
        chart.add(report.month, [n.count for n in nodes])
        chart.add(report.previous_month, [n.previous_count for n in nodes])
    return _render(chart)


# -- per team, per agent -----------------------------------------------------------------------


def sla(figures: Sequence[Figures]) -> str:
    rows = sorted(figures, key=lambda f: f.group or "")
    targets = sorted({t for f in rows for t in f.sla})
    chart = _chart(
        pygal.Bar, "SLA targets met, per team", [_label(f.group, "(no team)") for f in rows],
        range=(0, 100), value_formatter=_as("{:.0f}%"),
        no_data_text="No SLA outcomes",
    )  # fmt: skip
    for target in targets:
        met = [f.sla[target].percent_met if target in f.sla else None for f in rows]
        chart.add(TARGET_NAMES.get(target, target), met)
    return _render(chart)


def csat_per_team(figures: Sequence[Figures]) -> str:
    rows = sorted(figures, key=lambda f: f.group or "")
    chart = _chart(
        pygal.Bar, "CSAT per team: average and response rate",
        [_label(f.group, "(no team)") for f in rows], range=(0, 5), secondary_range=(0, 100),
    )  # fmt: skip
    if any(f.csat_responses for f in rows):
        chart.add("Average (1 to 5)", [f.csat_average for f in rows], formatter=_as("{:.2f}"))
        chart.add(
            "Answered, of resolved",
            [_percent(f.csat_response_rate) for f in rows],
            secondary=True,
            formatter=_as("{:.0f}%"),
        )
    return _render(chart)


def agents(figures: Sequence[Figures]) -> str:
    # The busiest on top: a horizontal bar chart draws its first label at the bottom.
    rows = sorted(figures, key=lambda f: (f.tickets + f.backlog, f.group or ""))
    chart = _chart(
        pygal.HorizontalBar, "Agents: tickets and backlog",
        [_label(f.group, "(unassigned)") for f in rows],
    )  # fmt: skip
    if rows:
        chart.add("Tickets opened", [f.tickets for f in rows])
        chart.add("Backlog at the window's end", [f.backlog for f in rows])
    return _render(chart)


def _moments(report: LoadReport) -> list[str]:
    fmt = "%m-%d %H:%M" if report.step == "hour" else "%Y-%m-%d"
    return [f"{moment:{fmt}}" for moment in report.samples]


def load(report: LoadReport) -> str:
    # Agents who held nothing in the window stay off the chart: a line at 0 says nothing.
    busy = [a for a in report.agents if any(p.total for p in a.points)]
    chart = _chart(pygal.Line, "Agents' load: tickets held open", _moments(report),
                   show_dots=False, print_values=False)  # fmt: skip
    for agent in busy:
        capacity = sum(agent.capacity.values())
        chart.add(f"{agent.name} (capacity {capacity})", [p.total for p in agent.points])
    return _render(chart)


def backlog(report: LoadReport) -> str:
    chart = _chart(pygal.Line, "Backlog: tickets open, and unassigned", _moments(report),
                   show_dots=False, print_values=False)  # fmt: skip
    for team, points in report.backlog.items():
        chart.add(f"{team}: open", [p.open for p in points])
        chart.add(f"{team}: unassigned", [p.unassigned for p in points])
    return _render(chart)


# -- the page's charts -------------------------------------------------------------------------


@dataclass(frozen=True)
class FiguresChart:
    """A chart of `InsightsService.figures`: per period of the query (no dimension), or per
    group of `dimension` over the whole window."""

    draw: Callable[[Sequence[Figures]], str]
    dimension: Dimension | None = None


@dataclass(frozen=True)
class CategoryChart:
    """A chart of the month's category tree (`InsightsService.categories`)."""

    draw: Callable[[CategoryReport], str]


@dataclass(frozen=True)
class LoadChart:
    """A chart of agents' load and the backlog over time (`InsightsService.load`)."""

    draw: Callable[[LoadReport], str]


Chart = FiguresChart | CategoryChart | LoadChart

#: Every chart by the name the page asks for it by: a new section adds its line here and an
#: `<img data-chart="name">` to page/index.html.
CHARTS: dict[str, Chart] = {
    "volume": FiguresChart(volume),
    "rates": FiguresChart(rates),
    "times": FiguresChart(times),
    "csat": FiguresChart(csat),
    "categories": CategoryChart(categories),
    "sla": FiguresChart(sla, "team"),
    "csat-teams": FiguresChart(csat_per_team, "team"),
    "agents": FiguresChart(agents, "agent"),
    "load": LoadChart(load),
    "backlog": LoadChart(backlog),
}
