"""How a board row reads on a console, whose console shows it, and who is looking."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from services.notifier.domain.board import Row
from services.notifier.domain.chat import WebhookTarget
from services.notifier.domain.errors import Forbidden
from shared.directory import Directory
from shared.ids import ticket_reference

ViewerRole = Literal["agent", "lead", "manager", "operator"]


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
    manager sees every ticket of their teams; an operator no ticket."""

    person_id: str
    name: str
    role: ViewerRole
    teams: tuple[str, ...]

    def sees(self, row: dict[str, Any]) -> bool:
        """Whether the console shows this row (a `view`)."""
        if self.role != "agent":
            return row["team"] in self.teams  # an operator has no teams
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
    """The viewer a person id is, or None for somebody the directory does not know. A lead or
    manager heads every team they lead or manage (as the shared access model has it)."""
    managed = [t for t in directory.teams if t.manager.person_id == person_id]
    led = [t for t in directory.teams if t.lead is not None and t.lead.person_id == person_id]
    heads = tuple(dict.fromkeys(t.name for t in (*managed, *led)))
    if managed:
        return Viewer(person_id, managed[0].manager.name, "manager", heads)
    if led and led[0].lead is not None:
        return Viewer(person_id, led[0].lead.name, "lead", heads)
    agent, team = directory.agent(person_id), directory.team_of(person_id)
    if agent is not None and team is not None:
        return Viewer(person_id, agent.name, "agent", (team.name,))
    operator = next((o for o in directory.operators if o.person_id == person_id), None)
    if operator is not None:
        return Viewer(person_id, operator.name, "operator", ())
    return None


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


def webhook_teams(target: WebhookTarget, directory: Directory) -> set[str]:
    """The teams a webhook serves (none listed: every team)."""
    return set(target.teams) or {t.name for t in directory.teams}


def sees_webhook(viewer: Viewer, target: WebhookTarget, directory: Directory) -> bool:
    """A lead or manager sees the webhooks of any of their teams."""
    return bool(webhook_teams(target, directory) & set(viewer.teams))


def may_change_webhook(viewer: Viewer, target: WebhookTarget, directory: Directory) -> None:
    """Only somebody heading every team a webhook serves may add, replace or remove it."""
    outside = sorted(webhook_teams(target, directory) - set(viewer.teams))
    if viewer.role not in ("lead", "manager") or outside:
        raise Forbidden(
            f"only a lead or manager of the teams may change their webhooks ({outside})"
        )
