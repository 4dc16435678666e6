"""What the customer portal shows of a ticket: the customer's own contacts and the agents'
replies, never internal notes, routing, SLA or status history, and never an agent's id."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

#: History entries the customer wrote, and the one an agent wrote to them.
_CUSTOMER = frozenset({"ticket.opened", "ticket.contact_appended"})
_AGENT = "ticket.agent_replied"
#: Identity kinds a customer signs in with or is called on; chat ids mean nothing to them.
_SHOWN_IDENTITIES = ("email", "phone")
DEFAULT_AGENT_NAME = "Support"


def shown_identities(customer: Mapping[str, Any]) -> list[str]:
    """The customer's own addresses and numbers, as they would write them."""
    found = []
    for key in customer.get("identities", []):
        kind, _, value = str(key).partition(":")
        if kind in _SHOWN_IDENTITIES and value:
            found.append(value)
    return found


def _when(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if value else None


def updated_at(ticket: Mapping[str, Any]) -> str | None:
    """When anything last happened on the ticket."""
    stamps = [h.get("occurred_at") for h in ticket.get("history", []) if h.get("occurred_at")]
    stamps += [ticket.get("last_contact_at"), ticket.get("opened_at")]
    shown = [s for s in (_when(v) for v in stamps) if s]
    return max(shown) if shown else None


def summary(ticket: Mapping[str, Any]) -> dict[str, Any]:
    """One line of the customer's list of tickets."""
    return {
        "ticket_id": ticket["_id"],
        "reference": ticket.get("reference"),
        "subject": ticket.get("subject") or "",
        "status": ticket.get("status"),
        "channel": ticket.get("channel"),
        "opened_at": _when(ticket.get("opened_at")),
        "updated_at": updated_at(ticket),
    }


def _files(entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {"filename": a.get("filename", ""), "size": a.get("size", 0)}
        for a in entry.get("attachments") or []
    ]


def conversation(
    history: Iterable[Mapping[str, Any]], agent_names: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The messages of a ticket the customer may read, oldest first."""
    shown = []
    for entry in history:
        kind = entry.get("event_type")
        if kind in _CUSTOMER:
            author, name = "customer", None
        elif kind == _AGENT:
            author = "agent"
            name = agent_names.get(str(entry.get("agent_id")), DEFAULT_AGENT_NAME)
        else:
            continue
        shown.append(
            {
                "author": author,
                "name": name,
                "body": entry.get("body") or "",
                "channel": entry.get("channel"),
                "at": _when(entry.get("occurred_at")),
                "attachments": _files(entry) if author == "customer" else [],
            }
        )
    return shown


def language_of(tickets: Iterable[Mapping[str, Any]]) -> str | None:
    """The language of the customer's newest ticket that has one."""
    for ticket in sorted(tickets, key=lambda t: _when(t.get("opened_at")) or "", reverse=True):
        if ticket.get("language"):
            return str(ticket["language"])
    return None


def survey_of(ticket: Mapping[str, Any], now: datetime) -> dict[str, Any] | None:
    """The satisfaction survey offered on the ticket, while its link still works."""
    survey = ticket.get("survey") or {}
    expires = survey.get("expires_at")
    if not survey.get("link") or ticket.get("status") not in ("resolved", "closed"):
        return None
    if isinstance(expires, str):
        expires = datetime.fromisoformat(expires)
    if isinstance(expires, datetime) and expires <= now:
        return None
    return {"link": survey["link"], "expires_at": _when(expires)}
