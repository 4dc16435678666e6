"""How a ticket view reads in the agents' workspace (`render`), who may open it (`watchers`,
the rule of `Person.sees_ticket`), and what a search for a text finds (`matches`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.notifier.domain.ticket_view import MESSAGE_KEYS, Entry, View, in_order
from shared.directory import Directory
from shared.ids import ticket_reference

#: Languages written right to left.
RTL = frozenset({"fa", "ar", "he"})

METRICS = ("first_response", "next_reply", "resolution")
_NOT_A_MESSAGE = dict.fromkeys((*MESSAGE_KEYS, "attachments"))


@dataclass(frozen=True)
class Scope:
    """Whose tickets a search covers (`Person.sees_ticket`): those assigned to the person and
    those of the teams they work in, lead or manage."""

    person_id: str
    teams: tuple[str, ...]

    def sees(self, team: str | None, assignee_id: str | None) -> bool:
        return assignee_id == self.person_id or (team is not None and team in self.teams)


def _person(directory: Directory, person_id: str | None) -> Any:
    if not person_id:
        return None
    for team in directory.teams:
        for person in (*team.agents, team.manager, team.lead):
            if person is not None and person.person_id == person_id:
                return person
    return next((o for o in directory.operators if o.person_id == person_id), None)


def name_of(directory: Directory, person_id: str | None) -> str | None:
    person = _person(directory, person_id)
    return str(person.name) if person is not None else None


def language_of(directory: Directory, person_id: str) -> str | None:
    """The language the person reads (the directory's; None for somebody it does not know)."""
    person = _person(directory, person_id)
    return str(person.language) if person is not None else None


def watchers(team: str | None, assignee_id: str | None, directory: Directory) -> set[str]:
    """Everybody who may open the ticket: its agent, and its team's agents, lead and manager."""
    people = {assignee_id} if assignee_id else set()
    found = directory.team(team) if team else None
    if found is not None:
        people |= {a.person_id for a in found.agents} | {found.manager.person_id}
        if found.lead is not None:
            people.add(found.lead.person_id)
    return people


def _fact(view: View, name: str) -> Any:
    # The SLA service's copy stands in until routing has said.
    value = view.get(name)
    return value if value is not None or name in view else view.get(f"sla_{name}")


def team_and_assignee(view: View) -> tuple[str | None, str | None]:
    return _fact(view, "team"), _fact(view, "assignee_id")


def direction_of(language: str | None) -> str:
    return "rtl" if (language or "").split("-")[0].lower() in RTL else "ltr"


def _clock(clock: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "metric": clock.get("metric"),
        "colour": clock.get("colour") or "green",
        "due_at": clock.get("due_at"),
        "paused": bool(clock.get("paused")),
        "remaining_seconds": clock.get("remaining_seconds"),
        "breached": bool(clock.get("breached")),
        "met": bool(clock.get("met")),
        "target_seconds": clock.get("target_seconds"),
    }


def _shown(entry: Entry, view: View, directory: Directory) -> dict[str, Any]:
    by = entry.get("by")
    customer = by is not None and by == view.get("customer_id")
    shown: dict[str, Any] = {
        "id": entry["id"],
        "kind": entry["kind"],
        "event_type": entry["event_type"],
        "at": entry["at"],
        "by": by,
        "by_name": view.get("customer") if customer else name_of(directory, by),
        **_NOT_A_MESSAGE,
        "fields": entry.get("fields") if entry["kind"] == "event" else None,
    }
    if entry["kind"] == "note":
        shown["body"] = entry.get("body")
    elif entry["kind"] == "message":
        shown |= {key: entry.get(key) for key in MESSAGE_KEYS}
        shown["channel"] = entry.get("channel") or view.get("channel")
        shown["attachments"] = [
            {key: a.get(key) for key in ("stored_id", "filename", "content_type", "size")}
            | {"refused": a.get("refused")}
            for a in entry.get("attachments") or []
        ]
    return shown


def render(view: View, directory: Directory) -> dict[str, Any]:
    """The view as the workspace receives it (`GET /tickets/{ticket_id}`); missing is null."""
    ticket_id = str(view["_id"])
    team, assignee = team_and_assignee(view)
    clocks = (view.get("clocks") or {}).values()
    rank = {metric: n for n, metric in enumerate(METRICS)}
    plain = ("subject", "customer_id", "customer", "plan", "channel", "language")
    return {
        "ticket_id": ticket_id,
        "reference": view.get("reference") or ticket_reference(ticket_id),
        **{name: view.get(name) for name in plain},
        "direction": direction_of(view.get("language")),
        "status": view.get("status") or "open",
        "open": bool(view.get("open", True)),
        "priority": _fact(view, "priority"),
        "category": _fact(view, "category"),
        **{name: view.get(name) for name in ("subcategory", "item", "tier")},
        "team": team,
        "assignee_id": assignee,
        "assignee_name": name_of(directory, assignee),
        "repeat_of": view.get("repeat_of"),
        "follows_ticket_id": view.get("follows_ticket_id"),
        "clocks": [
            _clock(c) for c in sorted(clocks, key=lambda c: rank.get(c.get("metric"), 9)) if c
        ],
        "timeline": [
            _shown(e, view, directory) for e in sorted(view.get("timeline") or [], key=in_order)
        ],
        "suggestions": [
            {
                "article_id": s.get("article_id"),
                "title": s.get("title"),
                "language": s.get("language"),
                "score": s.get("score"),
                "snippet": s.get("snippet"),
                # Articles are served by the knowledge base, whose address is not known here.
                "url": None,
            }
            for s in view.get("suggestions") or []
        ],
        "updated_at": view.get("updated_at"),
    }


#: What a search looks in besides the reference (a prefix): the facts and the texts.
SEARCHED = ("subject", "customer", "customer_id")


def matches(view: View, text: str) -> bool:
    """Whether a search for `text` finds the view (case does not matter; no patterns)."""
    needle = text.casefold()
    if str(view.get("reference") or "").casefold().startswith(needle):
        return True
    values = [view.get(f) for f in SEARCHED]
    values += [e.get("body") for e in view.get("timeline") or []]
    return any(isinstance(v, str) and needle in v.casefold() for v in values)


def search_row(view: View) -> dict[str, Any]:
    """A view as a search result lists it."""
    ticket_id = str(view["_id"])
    team, assignee = team_and_assignee(view)
    return {
        "ticket_id": ticket_id,
        "reference": view.get("reference") or ticket_reference(ticket_id),
        "subject": view.get("subject"),
        "customer": view.get("customer"),
        "status": view.get("status") or "open",
        "open": bool(view.get("open", True)),
        "team": team,
        "assignee_id": assignee,
        "priority": _fact(view, "priority"),
        "updated_at": view.get("updated_at"),
    }
