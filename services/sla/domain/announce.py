"""Turn a decision's notes into SLA events, carrying the ticket's colour after the decision.

Event ids are derived from what caused them: the input event and the effect, or, for what
the timer finds, the ticket, metric, cycle, level and the instant it fell due. A redelivered
input or a deadline fired again after a crash therefore yields the same ids, which consumers
drop as repeats.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.sla.domain.clocks import Calendar
from services.sla.domain.ticket import Decision, Note, Rules, TicketSla
from shared.events import (
    Event,
    SlaBreached,
    SlaMet,
    SlaPaused,
    SlaRecomputed,
    SlaResumed,
    SlaStarted,
    SlaWarning,
)
from shared.ids import derived_id


def events_of(decision: Decision, rules: Rules, cause: Event | None, now: datetime) -> list[Event]:
    """The events of a decision, in the order they happened."""
    ticket = decision.ticket
    calendar = rules.calendar_of(ticket) if ticket.started else None
    return [_event(ticket, note, calendar, cause, now) for note in decision.notes]


def _event(
    ticket: TicketSla, note: Note, calendar: Calendar | None, cause: Event | None, now: datetime
) -> Event:
    clock = note.clock
    common: dict[str, Any] = {
        "event_id": derived_id("sla", note.effect_id),
        "occurred_at": note.occurred_at,
        "ticket_id": ticket.ticket_id,
        "correlation_id": ticket.correlation_id,
        "causation_id": str(cause.event_id) if cause is not None else None,
        "metric": clock.metric,
        "cycle": clock.cycle,
        "team": ticket.team,
        "assignee_id": ticket.assignee_id,
        "priority": ticket.priority,
        "category": ticket.category,
        "colour": ticket.colour,
    }
    extra = note.extra
    target = clock.target.total_seconds()
    if note.kind == "started":
        return SlaStarted(
            **common,
            due_at=clock.due_at,
            target_seconds=target,
            policy=ticket.policy or "default",
            calendar=ticket.calendar,
        )
    if note.kind == "paused":
        return SlaPaused(
            **common,
            remaining_seconds=(clock.target - clock.used).total_seconds(),
            reason=str(extra.get("reason", "")),
        )
    if note.kind == "resumed":
        assert clock.due_at is not None
        return SlaResumed(**common, due_at=clock.due_at)
    if note.kind == "met":
        return SlaMet(
            **common,
            due_at=clock.due_at,
            used_seconds=clock.used.total_seconds(),
            target_seconds=target,
        )
    if note.kind == "breached":
        due: datetime = extra["due_at"]  # type: ignore[assignment]
        return SlaBreached(
            **common, due_at=due, late_by_seconds=max(0.0, (now - due).total_seconds())
        )
    if note.kind == "warning":
        at: datetime = extra["at"]  # type: ignore[assignment]
        assert clock.due_at is not None and calendar is not None
        return SlaWarning(
            **common,
            level_percent=int(extra["level"]),  # type: ignore[call-overload]
            due_at=clock.due_at,
            remaining_seconds=clock.remaining_at(calendar, at).total_seconds(),
            prompt=extra.get("prompt"),
        )
    return SlaRecomputed(
        **common,
        due_at=clock.due_at,
        target_seconds=target,
        used_seconds=clock.used.total_seconds(),
        policy=str(extra["policy"]),
        calendar=str(extra["calendar"]),
        reason=str(extra["reason"]),
    )
