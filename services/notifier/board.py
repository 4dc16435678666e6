"""The console's board: each open ticket as a row, who may see it, and how an event changes it.

A row is a plain document, the same in MongoDB and in a replica's memory. Each event sets the
fields of its group (the ticket's own facts, its routing, or one SLA clock) and the time of
the latest event applied to that group; an older event for a group is stale and changes
nothing, so a redelivery or a late reader never undoes a newer change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from shared.directory import Directory
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
from shared.ids import ticket_reference

Row = dict[str, Any]
ViewerRole = Literal["agent", "lead", "manager"]
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


def _field(row: Row, name: str) -> Any:
    value = row.get(name)
    return value if value is not None else row.get(f"sla_{name}")


def current_clock(row: Row) -> dict[str, Any] | None:
    """The clock to show: a breached one first, then the one falling due soonest."""
    clocks = [c for c in (row.get("clocks") or {}).values() if c and not c.get("met")]
    if not clocks:
        return None
    far = datetime.max.replace(tzinfo=None)

    def urgency(clock: dict[str, Any]) -> tuple[bool, datetime]:
        due = clock.get("due_at")
        return (not clock.get("breached"), due.replace(tzinfo=None) if due else far)

    return min(clocks, key=urgency)


def view(row: Row) -> dict[str, Any]:
    """The row as the console receives it (the HTTP contract's TicketRow)."""
    clock = current_clock(row)
    sla = None
    if clock is not None:
        sla = {
            "metric": clock.get("metric"),
            "due_at": clock.get("due_at"),
            "target_seconds": clock.get("target_seconds"),
            "colour": clock.get("colour", "green"),
            "breached": bool(clock.get("breached")),
            "paused": bool(clock.get("paused")),
        }
    ticket_id = str(row["_id"])
    assignee = row.get("assignee_id") if "assignee_id" in row else row.get("sla_assignee_id")
    return {
        "ticket_id": ticket_id,
        "reference": row.get("reference") or ticket_reference(ticket_id),
        "subject": row.get("subject"),
        "customer": row.get("customer"),
        "priority": _field(row, "priority"),
        "category": _field(row, "category"),
        "team": _field(row, "team"),
        "assignee_id": assignee,
        "status": row.get("status", "open"),
        "queued": bool(row.get("queued")) or assignee is None,
        "open": bool(row.get("open", True)),
        "sla": sla,
        "updated_at": row.get("updated_at"),
    }


@dataclass(frozen=True)
class Viewer:
    """Whose console: an agent sees their own tickets and their team's queue; a lead or
    manager sees every ticket of their teams."""

    person_id: str
    name: str
    role: ViewerRole
    teams: tuple[str, ...]

    def sees(self, row: dict[str, Any]) -> bool:
        """Whether the console shows this row (a `view`)."""
        if self.role != "agent":
            return row["team"] in self.teams
        if row["assignee_id"] is not None:
            return bool(row["assignee_id"] == self.person_id)
        return row["team"] in self.teams

    def as_json(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "name": self.name,
            "role": self.role,
            "teams": list(self.teams),
        }


def viewer_of(person_id: str, directory: Directory) -> Viewer | None:
    """The viewer a person id is, or None for somebody the directory does not know."""
    managed = [t for t in directory.teams if t.manager.person_id == person_id]
    if managed:
        return Viewer(person_id, managed[0].manager.name, "manager", tuple(t.name for t in managed))
    led = [t for t in directory.teams if t.lead is not None and t.lead.person_id == person_id]
    if led and led[0].lead is not None:
        return Viewer(person_id, led[0].lead.name, "lead", tuple(t.name for t in led))
    agent, team = directory.agent(person_id), directory.team_of(person_id)
    if agent is None or team is None:
        return None
    return Viewer(person_id, agent.name, "agent", (team.name,))


def audience(row: dict[str, Any], directory: Directory) -> set[str]:
    """Everybody whose console shows the row (a `view`)."""
    team = directory.team(row["team"]) if row["team"] else None
    people: set[str] = set()
    if team is not None:
        people.add(team.manager.person_id)
        if team.lead is not None:
            people.add(team.lead.person_id)
        if row["assignee_id"] is None:
            people.update(a.person_id for a in team.agents)
    if row["assignee_id"] is not None:
        people.add(row["assignee_id"])
    return people
