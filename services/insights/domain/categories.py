"""The monthly category report: the tickets of a month as a tree of category, subcategory and
affected item, with the count and share at each level and the change from the month before.

"60% of requests are usage problems; 80% of those come from incomplete training": each node's
share is of its parent (the top level's, of all the month's tickets), so the tree reads the way
the source's own report does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from pydantic import BaseModel, Field

from services.insights.domain.facts import TicketFact

#: The name a level shows for tickets that did not say (not routed yet, no subcategory).
UNSPECIFIED = "(unspecified)"


class CategoryNode(BaseModel):
    name: str
    path: str = Field(description="`category/subcategory/item`; drill down with it.")
    count: int
    share: float | None = Field(description="Share of the parent level (0 to 1).")
    previous_count: int
    previous_share: float | None
    change: int = Field(description="Count minus the month before's.")
    share_change: float | None = Field(description="Share minus the month before's.")
    children: list[CategoryNode] = Field(default_factory=list)


class CategoryReport(BaseModel):
    month: str
    previous_month: str
    tickets: int
    previous_tickets: int
    categories: list[CategoryNode]


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


Path = tuple[str | None, str | None, str | None]


def paths_of(facts: Iterable[TicketFact]) -> Counter[Path]:
    """Tickets per (category, subcategory, item), as the store counts them."""
    return Counter((f.category, f.subcategory, f.item) for f in facts)


def _counts(paths: Mapping[Path, int]) -> Counter[tuple[str, ...]]:
    """Tickets under every prefix of every path: (), (category,), (category, sub), (…, item)."""
    counts: Counter[tuple[str, ...]] = Counter()
    for (category, subcategory, item), count in paths.items():
        path = (category or UNSPECIFIED, subcategory or UNSPECIFIED, item or UNSPECIFIED)
        for depth in range(4):
            counts[path[:depth]] += count
    return counts


def _nodes(
    prefix: tuple[str, ...], now: Counter[tuple[str, ...]], before: Counter[tuple[str, ...]]
) -> list[CategoryNode]:
    if len(prefix) == 3:
        return []
    names = {k[len(prefix)] for k in (*now, *before) if len(k) == len(prefix) + 1
             and k[: len(prefix)] == prefix}  # fmt: skip
    nodes = []
    for name in names:
        path = (*prefix, name)
        share = _share(now[path], now[prefix])
        previous = _share(before[path], before[prefix])
        nodes.append(
            CategoryNode(
                name=name,
                path="/".join(path),
                count=now[path],
                share=share,
                previous_count=before[path],
                previous_share=previous,
                change=now[path] - before[path],
                share_change=round(share - previous, 4)
                if share is not None and previous is not None
                else None,
                children=_nodes(path, now, before),
            )
        )
    return sorted(nodes, key=lambda n: (-n.count, n.name))


def category_report(
    month: str,
    previous_month: str,
    paths: Mapping[Path, int],
    previous: Mapping[Path, int],
) -> CategoryReport:
    """The tree of the month's tickets per path beside the month before's."""
    now, before = _counts(paths), _counts(previous)
    return CategoryReport(
        month=month,
        previous_month=previous_month,
        tickets=now[()],
        previous_tickets=before[()],
        categories=_nodes((), now, before),
    )
