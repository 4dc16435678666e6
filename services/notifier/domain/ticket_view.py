"""The agent workspace's view of one ticket: its facts, SLA clocks, suggested articles and the
timeline of what happened to it, and what each event changes in it.

A view is a plain document, the same in MongoDB and in memory. Its facts are set as the board
sets a row's (`board.Change`, a version per group): here each routing fact is a group of its
own, so that every field holds the value of the latest event that set it, whatever order the
events come in. Each event adds one entry to the timeline, once (by event id: a redelivery adds
nothing), placed by `occurred_at` (ties by arrival); only the latest `TIMELINE_LIMIT` are kept.
How a view reads, and who may open it, is `workspace`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.notifier.domain.board import Change, RowWrite, change_of, coalesce, is_stale, merged
from services.notifier.domain.erasure import blank_entry
from shared.events import (
    Event,
    KbSuggested,
    SlaBreached,
    SlaMet,
    SlaPaused,
    SlaRecomputed,
    SlaResumed,
    SlaStarted,
    SlaWarning,
    TicketAgentReplied,
    TicketAssigned,
    TicketContactAppended,
    TicketCsatReceived,
    TicketEscalated,
    TicketEscalationRequested,
    TicketNoteAdded,
    TicketOpened,
    TicketPriorityChanged,
    TicketQueued,
    TicketRouted,
    TicketStatusChanged,
    TicketTransferred,
    TicketTransferRequested,
    TicketTransfersExceeded,
)

View = dict[str, Any]
Entry = dict[str, Any]

#: Timeline entries a view keeps: the latest ones; older ones fall off as new ones come.
TIMELINE_LIMIT = 500
CLOSED = frozenset({"resolved", "closed"})
#: The envelope, and who acted (the entry's `by`): not part of an event entry's `fields`.
_NOT_FIELDS = frozenset(
    {
        "event_id",
        "event_type",
        "schema_version",
        "occurred_at",
        "ticket_id",
        "correlation_id",
        "causation_id",
        "customer_id",
        "contact_id",
        "requested_by",
    }
)
MESSAGE_KEYS = ("direction", "channel", "body", "quoted_text", "signature", "language")
_SLA = (SlaStarted, SlaPaused, SlaResumed, SlaWarning, SlaBreached, SlaMet, SlaRecomputed)
_ROUTING = (
    TicketRouted,
    TicketAssigned,
    TicketQueued,
    TicketTransferred,
    TicketEscalated,
    TicketTransfersExceeded,
)


_TICKET = (
    TicketOpened,
    TicketContactAppended,
    TicketAgentReplied,
    TicketNoteAdded,
    TicketStatusChanged,
    TicketPriorityChanged,
    TicketCsatReceived,
    TicketEscalationRequested,
    TicketTransferRequested,
)
_VIEWED = (*_TICKET, *_ROUTING, *_SLA, KbSuggested)


@dataclass(frozen=True)
class ViewChange:
    """What one event changes in its ticket's view: facts (per group) and a timeline entry."""

    ticket_id: str
    facts: tuple[Change, ...]
    entry: Entry | None


def in_ms(instant: datetime) -> datetime:
    """The instant to the millisecond, as MongoDB keeps it."""
    return instant.replace(microsecond=instant.microsecond // 1000 * 1000)


def arrival_of(now: datetime, position: int) -> int:
    """A number that orders entries by when they were consumed: microseconds, then position in
    the batch (a batch holds far fewer than a thousand records)."""
    return int(now.timestamp() * 1_000_000) * 1000 + position


def _each(ticket_id: str, at: datetime, fields: Mapping[str, Any]) -> list[Change]:
    return [Change(ticket_id, name, at, {name: value}) for name, value in fields.items()]


def _facts(event: Event, ticket_id: str) -> list[Change]:
    at = event.occurred_at
    if isinstance(event, TicketOpened):
        opened = {
            "reference": event.reference,
            "subject": event.subject,
            "customer_id": event.customer_id,
            "customer": event.customer_name or event.customer_id,
            "plan": event.customer_plan,
            "channel": event.channel,
            "language": event.language,
            "repeat_of": event.repeat_of,
            "follows_ticket_id": event.follows_ticket_id,
            "opened_at": at,
        }
        return [Change(ticket_id, "opened", at, opened)]
    if isinstance(event, TicketStatusChanged):
        status = {"status": event.status, "open": event.status not in CLOSED}
        return [Change(ticket_id, "status", at, status)]
    fields: dict[str, Any] = {}
    if isinstance(event, TicketPriorityChanged):
        fields = {"priority": event.priority}
    elif isinstance(event, TicketRouted):
        fields = {"category": event.category, "subcategory": event.subcategory}
        fields |= {"item": event.item, "priority": event.priority, "tier": event.tier}
        fields["team"] = event.team
    elif isinstance(event, TicketAssigned):
        fields = {"assignee_id": event.agent_id, "team": event.team}
        if event.tier is not None:
            fields["tier"] = event.tier
    elif isinstance(event, TicketQueued):
        fields = {"assignee_id": None, "team": event.team, "tier": event.tier}
        fields["priority"] = event.priority
    elif isinstance(event, TicketTransferred):
        fields = {"assignee_id": event.to_agent_id, "team": event.to_team}
    elif isinstance(event, TicketEscalated):
        fields = {"tier": event.to_tier}
    elif isinstance(event, KbSuggested):
        suggestions = [a.model_dump(mode="json") for a in event.articles]
        return [Change(ticket_id, "suggestions", at, {"suggestions": suggestions})]
    elif isinstance(event, _SLA):
        # The board's clock fields (and the team, agent, priority the SLA service carries,
        # shown only while routing has not said).
        clock = change_of(event)
        return [clock] if clock is not None else []
    return _each(ticket_id, at, fields)


def _by(event: Event) -> str:
    """Who acted: an agent, the customer, else the service that decided."""
    if isinstance(event, TicketEscalated) and event.requested_by:
        return event.requested_by
    if isinstance(event, _ROUTING):
        return "router"
    if isinstance(event, _SLA):
        return "sla"
    for name in ("agent_id", "customer_id"):
        value = getattr(event, name, None)
        if value:
            return str(value)
    return "intake"


def _entry(event: Event, arrival: int) -> Entry | None:
    entry: Entry = {
        "id": str(event.event_id),
        "event_type": event.event_type,
        "at": event.occurred_at,
        "arrival": arrival,
        "by": _by(event),
    }
    if isinstance(event, TicketOpened | TicketContactAppended):
        entry |= {"kind": "message", "direction": "in", "channel": event.channel}
        entry |= {"body": event.body, "quoted_text": event.quoted_text}
        entry |= {"signature": event.signature, "language": event.language}
        entry["attachments"] = [a.model_dump(mode="json") for a in event.attachments]
    elif isinstance(event, TicketAgentReplied):
        entry |= {"kind": "message", "direction": "out", "body": event.body, "attachments": []}
    elif isinstance(event, TicketNoteAdded):
        entry |= {"kind": "note", "body": event.body}
    elif isinstance(event, KbSuggested):
        return None
    else:
        fields = event.model_dump(exclude=set(_NOT_FIELDS))
        if not isinstance(event, _ROUTING):
            fields.pop("agent_id", None)  # the entry's `by`
        entry |= {"kind": "event", "fields": fields}
    return entry


def view_change(event: Event, arrival: int) -> ViewChange | None:
    """What the event changes in its ticket's view; None for an event views do not record."""
    if not event.ticket_id or not isinstance(event, _VIEWED):
        return None
    facts = tuple(_facts(event, event.ticket_id))
    entry = _entry(event, arrival)
    if not facts and entry is None:
        return None
    return ViewChange(event.ticket_id, facts, entry)


def in_order(entry: Entry) -> tuple[datetime, int]:
    return entry["at"], entry.get("arrival", 0)


def entry_ids(view: View | None) -> set[str]:
    return {e["id"] for e in (view or {}).get("timeline") or ()}


def applied(view: View | None, change: ViewChange) -> View:
    """The view with the change applied: stale facts and a repeated entry left out."""
    new: View = dict(view) if view else {"_id": change.ticket_id, "open": True, "timeline": []}
    for fact in change.facts:
        if not is_stale(new, fact):
            new = merged(new, fact)
    entry = change.entry
    if entry is not None and entry["id"] not in entry_ids(new):
        if new.get("erased"):
            entry = blank_entry(entry)
        timeline = sorted([*(new.get("timeline") or []), entry], key=in_order)
        new["timeline"] = timeline[-TIMELINE_LIMIT:]
        new["updated_at"] = max(entry["at"], new.get("updated_at") or entry["at"])
    new.setdefault("timeline", [])
    new["revision"] = int(new.get("revision") or 0) + 1
    return new


@dataclass(frozen=True)
class ViewWrite:
    """What a batch changes in one view, as one write: its facts' groups and new entries."""

    ticket_id: str
    facts: RowWrite | None
    entries: tuple[Entry, ...]

    @property
    def latest(self) -> datetime:
        times = [e["at"] for e in self.entries]
        times += [g.at for g in self.facts.groups] if self.facts else []
        return max(times)


def coalesced(
    changes: Sequence[ViewChange], views: Mapping[str, View] | None = None
) -> list[ViewWrite]:
    """A batch's changes as one write per view. With `views` (as they are now), stale facts
    and entries the views hold already are left out, and entries of an erased view blanked."""
    facts = {w.ticket_id: w for w in coalesce((f for c in changes for f in c.facts), views)}
    entries: dict[str, dict[str, Entry]] = {}
    for change in changes:
        entries.setdefault(change.ticket_id, {})
        if change.entry is not None:
            entries[change.ticket_id].setdefault(change.entry["id"], change.entry)
    writes = []
    for ticket_id, found in entries.items():
        view = (views or {}).get(ticket_id)
        held = entry_ids(view)
        fresh = [e for e in found.values() if e["id"] not in held]
        if view is not None and view.get("erased"):
            fresh = [blank_entry(e) for e in fresh]
        if fresh or ticket_id in facts:
            writes.append(ViewWrite(ticket_id, facts.get(ticket_id), tuple(fresh)))
    return writes
