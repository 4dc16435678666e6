"""What agents may do to a ticket: which actions fit its status, and whose ticket it is."""

from __future__ import annotations

from typing import Literal

from shared.events.tickets import TicketStatus

Action = Literal[
    "reply", "note", "pending", "on_hold", "resolve", "reopen", "escalate", "transfer", "priority"
]

_ACTIVE: frozenset[str] = frozenset({"open", "reopened", "pending", "on_hold"})
_CLOSED: frozenset[str] = frozenset({"resolved", "closed"})

# Action -> (statuses it is allowed from, the status it leads to or None to leave it alone).
_RULES: dict[str, tuple[frozenset[str], TicketStatus | None]] = {
    "reply": (_ACTIVE, None),
    "note": (_ACTIVE | _CLOSED, None),
    "pending": (_ACTIVE - {"pending"}, "pending"),
    "on_hold": (_ACTIVE - {"on_hold"}, "on_hold"),
    "resolve": (_ACTIVE, "resolved"),
    "reopen": (_CLOSED, "reopened"),
    "escalate": (_ACTIVE, None),
    "transfer": (_ACTIVE, None),
    "priority": (_ACTIVE, None),
}


_VERBS = {
    "pending": "set to pending",
    "on_hold": "put on hold",
    "note": "add a note to",
    "priority": "change the priority of",
}


class InvalidTransition(ValueError):
    """The agent's action does not fit the ticket's current status."""


def status_after(current: str, action: str) -> TicketStatus | None:
    """The status `action` leads to (None: it leaves the status alone), or refuse it."""
    if action not in _RULES:
        raise InvalidTransition(f"unknown action {action!r}")
    allowed, target = _RULES[action]
    if current not in allowed:
        hint = "; reopen it first" if current in _CLOSED else ""
        raise InvalidTransition(
            f"cannot {_VERBS.get(action, action)} a ticket that is {current}{hint}"
        )
    return target
