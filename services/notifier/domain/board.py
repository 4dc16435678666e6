"""The console's board: each open ticket as a row, and how events change it.

A row is a plain document, the same in MongoDB and in a replica's memory (how it reads and
who sees it is `views`). Each event sets the fields of its group (the ticket's own facts, its
routing, or one SLA clock) and the time of the latest event applied to that group; an older
event for a group is stale and changes nothing, so a redelivery or a late reader never undoes
a newer change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from shared.events import (
    Event,
    SlaBreached,
    SlaMet,
    SlaPaused,
    SlaRecomputed,
    SlaResumed,
    SlaStarted,
    SlaWarning,
    TicketAssigned,
    TicketEscalated,
    TicketOpened,
    TicketPriorityChanged,
    TicketQueued,
    TicketRouted,
    TicketStatusChanged,
    TicketTransferred,
)

Row = dict[str, Any]
CLOSED = frozenset({"resolved", "closed"})


@dataclass(frozen=True)
class Change:
    """What one event sets on its ticket's row: the group, the event's time, dotted fields."""

    ticket_id: str
    group: str
    at: datetime
    fields: dict[str, Any]


_SLA = (SlaStarted, SlaPaused, SlaResumed, SlaWarning, SlaBreached, SlaMet, SlaRecomputed)


def _sla_change(event: Event) -> dict[str, Any] | None:
    if not isinstance(event, _SLA):
        return None
    metric = event.metric
    path = f"clocks.{metric}"
    if isinstance(event, SlaMet):
        # Marked rather than removed: a later cycle's start sets the same fields again.
        return {f"{path}.met": True}
    clock: dict[str, Any] = {"metric": metric, "colour": event.colour, "paused": False}
    clock["met"] = False
    clock["due_at"] = getattr(event, "due_at", None)
    clock["breached"] = isinstance(event, SlaBreached)
    if clock["breached"]:
        clock["colour"] = "red"
    if isinstance(event, SlaStarted | SlaRecomputed):
        clock["target_seconds"] = event.target_seconds
    if isinstance(event, SlaPaused):
        clock |= {"paused": True, "due_at": None, "remaining_seconds": event.remaining_seconds}
    fields = {f"{path}.{k}": v for k, v in clock.items()}
    # The ticket's facts the SLA service carries are fresher than nothing: fill them in.
    for name in ("team", "assignee_id", "priority", "category"):
        if getattr(event, name) is not None:
            fields.setdefault(f"sla_{name}", getattr(event, name))
    return fields


def change_of(event: Event) -> Change | None:
    """The change an event makes to its ticket's row, or None for events the board ignores."""
    if event.ticket_id is None:
        return None
    fields: dict[str, Any] | None
    group = "routing"
    if isinstance(event, TicketOpened):
        group = "opened"
        fields = {
            "reference": event.reference,
            "subject": event.subject,
            "customer": event.customer_name or event.customer_id,
            "channel": event.channel,
            "language": event.language,
            "opened_at": event.occurred_at,
        }
    elif isinstance(event, TicketStatusChanged):
        group = "status"
        fields = {"status": event.status, "open": event.status not in CLOSED}
    elif isinstance(event, TicketPriorityChanged):
        group = "priority"
        fields = {"priority": event.priority}
    elif isinstance(event, TicketRouted):
        category = event.category
        if event.subcategory:
            category += f"/{event.subcategory}"
        fields = {"category": category, "priority": event.priority, "team": event.team}
        fields["tier"] = event.tier
    elif isinstance(event, TicketAssigned):
        fields = {"assignee_id": event.agent_id, "team": event.team, "queued": False}
    elif isinstance(event, TicketQueued):
        fields = {"assignee_id": None, "team": event.team, "queued": True}
        fields["priority"] = event.priority
    elif isinstance(event, TicketTransferred):
        fields = {"assignee_id": event.to_agent_id, "team": event.to_team}
        fields["queued"] = event.to_agent_id is None
    elif isinstance(event, TicketEscalated):
        group = "tier"
        fields = {"tier": event.to_tier}
    else:
        fields = _sla_change(event)
        group = f"sla:{getattr(event, 'metric', '')}"
    if fields is None:
        return None
    return Change(event.ticket_id, group, event.occurred_at, fields)


def _ms(instant: datetime) -> datetime:
    # MongoDB keeps milliseconds: compare at that precision, whichever copy the row is.
    return instant.replace(microsecond=instant.microsecond // 1000 * 1000)


def _seen(row: Row | None, change: Change) -> datetime | None:
    seen = (row.get("versions") or {}).get(change.group) if row is not None else None
    return _ms(seen) if seen is not None else None


def is_stale(row: Row | None, change: Change) -> bool:
    """A newer event of the change's group is applied to the row already."""
    seen = _seen(row, change)
    return seen is not None and seen > _ms(change.at)


def holds(row: Row | None, change: Change) -> bool:
    """The row has this very change applied (the latest of its group is at its instant)."""
    return _seen(row, change) == _ms(change.at)


def merged(row: Row | None, change: Change) -> Row:
    """The row with the change applied (the caller checks `is_stale` first)."""
    new: Row = dict(row) if row else {"_id": change.ticket_id, "open": True}
    for path, value in change.fields.items():
        head, _, rest = path.partition(".")
        if rest:
            inner = dict(new.get(head) or {})
            sub, _, leaf = rest.partition(".")
            if leaf:
                inner[sub] = {**(inner.get(sub) or {}), leaf: value}
            else:
                inner[sub] = value
            new[head] = inner
        else:
            new[path] = value
    new["versions"] = {**(new.get("versions") or {}), change.group: change.at}
    new["updated_at"] = max(change.at, new.get("updated_at") or change.at)
    return new


@dataclass(frozen=True)
class GroupWrite:
    """The changes of one group of one row in a batch, as one write: `fields` of them all, in
    order; the row's version of the group must not be newer than `since` (the first change's
    time) and becomes `at` (the last one's)."""

    group: str
    since: datetime
    at: datetime
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RowWrite:
    """What a batch changes in one row: one write of its groups' changes."""

    ticket_id: str
    groups: tuple[GroupWrite, ...]

    @property
    def fields(self) -> dict[str, Any]:
        merged_fields: dict[str, Any] = {}
        for group in self.groups:
            merged_fields.update(group.fields)
        return merged_fields


def coalesce(changes: Iterable[Change], rows: Mapping[str, Row] | None = None) -> list[RowWrite]:
    """The changes of a batch as one write per row, the same as applying them one by one.

    Per row and group, changes are merged in order; one older than a change before it in the
    batch is stale and left out, as is one older than the row's version when `rows` (the rows
    as they are now) is given. A write whose row turns out newer than `since` is redone from
    the row read again.
    """
    per_row: dict[str, dict[str, GroupWrite]] = {}
    for change in changes:
        groups = per_row.setdefault(change.ticket_id, {})
        current = groups.get(change.group)
        if current is None:
            row = rows.get(change.ticket_id) if rows is not None else None
            if not is_stale(row, change):
                groups[change.group] = GroupWrite(
                    change.group, change.at, change.at, dict(change.fields)
                )
        elif _ms(change.at) >= _ms(current.at):
            groups[change.group] = replace(
                current, at=change.at, fields={**current.fields, **change.fields}
            )
    return [
        RowWrite(ticket_id, tuple(groups.values()))
        for ticket_id, groups in per_row.items()
        if groups
    ]
