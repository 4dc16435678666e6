"""How a board row reads on a console, whose console shows it, and who is looking."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from services.notifier.domain.board import Row
from shared.directory import Directory
from shared.ids import ticket_reference

ViewerRole = Literal["agent", "lead", "manager"]


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
