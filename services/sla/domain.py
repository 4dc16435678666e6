"""Pure SLA logic: the clocks that start, are met or breach, and what arrived before they did.

Every function takes the clocks as they are, the input and `now`, and returns the clocks that
changed and the events to emit. No I/O happens here, so the rules are tested with a fake clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.sla.policies import Targets
from shared.events import (
    Event,
    SlaBreached,
    SlaMet,
    SlaStarted,
    TicketAgentReplied,
    TicketAssigned,
    TicketRouted,
    TicketStatusChanged,
)
from shared.events.sla import Metric
from shared.events.tickets import Priority
from shared.ids import derived_id

ClockStatus = Literal["running", "met", "breached"]
#: The targets this service keeps a clock for, in the order their events are emitted.
METRICS: tuple[Metric, ...] = ("first_response", "resolution")
#: Statuses that meet the resolution target (and first response, if nobody replied before).
DONE_STATUSES = frozenset({"resolved", "closed"})


def clock_key(ticket_id: str, metric: str) -> str:
    """The id of one clock, in MongoDB and in the deadline heap."""
    return f"{ticket_id}:{metric}"


def ticket_of(key: str) -> str:
    """The ticket id of a clock key (a ticket id may itself hold a colon; a metric never does)."""
    return key.rpartition(":")[0]


class SlaClock(BaseModel):
    """One target of one ticket, from start to met or breached."""

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    metric: Metric
    status: ClockStatus = "running"
    started_at: AwareDatetime
    due_at: AwareDatetime
    team: str | None = None
    assignee_id: str | None = None
    priority: Priority | None = None
    partition: int | None = Field(default=None, description="Kafka partition of the ticket.")
    correlation_id: str | None = None
    started_by: str = Field(description="Id of the event that started the clock.")
    closed_at: AwareDatetime | None = None
    closed_by: str | None = Field(default=None, description="Id of the event that met it.")

    @property
    def key(self) -> str:
        return clock_key(self.ticket_id, self.metric)


class EarlyReply(BaseModel):
    """An agent reply that arrived before the ticket was routed (they travel on two topics)."""

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    replied_at: AwareDatetime
    agent_id: str
    event_id: str


class EarlyResolution(BaseModel):
    """A ticket resolved or closed before it was routed: its clocks are met as they start."""

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    resolved_at: AwareDatetime
    status: str
    event_id: str


@dataclass(frozen=True)
class Outcome:
    """What a decision changed: clocks to store (new or updated) and events to publish."""

    clocks: list[SlaClock] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


def _ms(instant: datetime) -> datetime:
    """MongoDB keeps milliseconds; truncating first keeps stored and computed times equal."""
    return instant.replace(microsecond=instant.microsecond // 1000 * 1000)


def _happened_at(event: Event, now: datetime) -> datetime:
    """When the input happened, never later than now (a sender's clock may run ahead)."""
    return _ms(min(event.occurred_at, now))


def start_clocks(
    routed: TicketRouted,
    targets: Targets,
    now: datetime,
    *,
    partition: int | None,
    existing: Sequence[SlaClock] = (),
    early_reply: EarlyReply | None = None,
    early_resolution: EarlyResolution | None = None,
) -> Outcome:
    """Start both clocks of a routed ticket; what happened before routing meets them at once.

    A reply seen earlier meets first response; a resolution seen earlier meets both. A clock
    already started by another routing of the ticket keeps running unchanged. One started by
    this very event (a redelivery after a crash) is announced again, with the ids it had the
    first time.
    """
    by_metric = {c.metric: c for c in existing}
    started_at = _happened_at(routed, now)
    met_at_start: set[Metric] = set(METRICS) if early_resolution is not None else set()
    if early_reply is not None:
        met_at_start.add("first_response")
    clocks: list[SlaClock] = []
    events: list[Event] = []
    for metric in METRICS:
        clock = by_metric.get(metric)
        if clock is None:
            clock = SlaClock(
                ticket_id=routed.ticket_id,
                metric=metric,
                started_at=started_at,
                due_at=_ms(started_at + targets.of(metric)),
                team=routed.team,
                priority=routed.priority,
                partition=partition,
                correlation_id=routed.correlation_id or str(routed.event_id),
                started_by=str(routed.event_id),
            )
            if metric in met_at_start:
                met: dict[str, Any] = {
                    "status": "met",
                    "closed_at": started_at,
                    "closed_by": str(routed.event_id),
                }
                if metric == "first_response" and early_reply is not None:
                    met["assignee_id"] = early_reply.agent_id
                clock = clock.model_copy(update=met)
            clocks.append(clock)
        elif clock.started_by != str(routed.event_id):
            continue
        events.append(_started(routed, clock))
        if clock.status == "met" and clock.closed_by == str(routed.event_id):
            events.append(_met(routed, clock))
    return Outcome(clocks, events)


def assign(clocks: Iterable[SlaClock], assigned: TicketAssigned) -> Outcome:
    """Running clocks learn the ticket's agent and team; no event is emitted."""
    changed = [
        c.model_copy(update={"assignee_id": assigned.agent_id, "team": assigned.team})
        for c in clocks
        if c.status == "running" and (c.assignee_id, c.team) != (assigned.agent_id, assigned.team)
    ]
    return Outcome(changed)


def early_reply(replied: TicketAgentReplied, now: datetime) -> EarlyReply:
    """Remember a reply to a ticket whose clocks have not started yet."""
    return EarlyReply(
        ticket_id=replied.ticket_id,
        replied_at=_happened_at(replied, now),
        agent_id=replied.agent_id,
        event_id=str(replied.event_id),
    )


def early_resolution(changed: TicketStatusChanged, now: datetime) -> EarlyResolution | None:
    """Remember a resolution of a ticket whose clocks have not started; None if not resolved."""
    if changed.status not in DONE_STATUSES:
        return None
    return EarlyResolution(
        ticket_id=changed.ticket_id,
        resolved_at=_happened_at(changed, now),
        status=changed.status,
        event_id=str(changed.event_id),
    )


def reply(clocks: Iterable[SlaClock], replied: TicketAgentReplied, now: datetime) -> Outcome:
    """An agent's reply meets the first-response target if it came in time."""
    return _meet([c for c in clocks if c.metric == "first_response"], replied, now)


def status_changed(
    clocks: Iterable[SlaClock], changed: TicketStatusChanged, now: datetime
) -> Outcome:
    """Resolving or closing the ticket meets every target still running."""
    if changed.status not in DONE_STATUSES:
        return Outcome()
    return _meet(list(clocks), changed, now)


def _meet(clocks: Sequence[SlaClock], cause: Event, now: datetime) -> Outcome:
    """Close running clocks as met by `cause`, if it happened by their deadline.

    A cause that happened after the deadline changes nothing: the breach is the timer's to
    report. A clock already met by this same cause (a redelivery) is announced again.
    """
    at = _happened_at(cause, now)
    changed: list[SlaClock] = []
    events: list[Event] = []
    for clock in clocks:
        if clock.status == "running" and at <= clock.due_at:
            clock = clock.model_copy(
                update={"status": "met", "closed_at": at, "closed_by": str(cause.event_id)}
            )
            changed.append(clock)
        elif not (clock.status == "met" and clock.closed_by == str(cause.event_id)):
            continue
        events.append(_met(cause, clock))
    return Outcome(changed, events)


def breach(clock: SlaClock, now: datetime) -> Outcome:
    """A running clock whose deadline has passed is breached; the ticket turns red."""
    if clock.status != "running" or now < clock.due_at:
        return Outcome()
    breached = clock.model_copy(update={"status": "breached", "closed_at": _ms(now)})
    event = SlaBreached(
        event_id=derived_id(clock.ticket_id, clock.metric, "breached", clock.due_at.isoformat()),
        occurred_at=now,
        ticket_id=clock.ticket_id,
        correlation_id=clock.correlation_id,
        causation_id=None,
        colour="red",
        **_about(clock),
        due_at=clock.due_at,
        late_by_seconds=max(0.0, (now - clock.due_at).total_seconds()),
    )
    return Outcome([breached], [event])


def _about(clock: SlaClock) -> dict[str, Any]:
    """The fields every SLA event copies from its clock."""
    return {
        "metric": clock.metric,
        "team": clock.team,
        "assignee_id": clock.assignee_id,
        "priority": clock.priority,
    }


def _started(cause: Event, clock: SlaClock) -> SlaStarted:
    started: SlaStarted = cause.caused(
        SlaStarted,
        f"sla.started:{clock.metric}",
        occurred_at=clock.started_at,
        due_at=clock.due_at,
        target_seconds=(clock.due_at - clock.started_at).total_seconds(),
        **_about(clock),
    )
    return started


def _met(cause: Event, clock: SlaClock) -> SlaMet:
    closed_at = clock.closed_at or clock.started_at
    met: SlaMet = cause.caused(
        SlaMet,
        f"sla.met:{clock.metric}",
        occurred_at=closed_at,
        due_at=clock.due_at,
        used_seconds=max(0.0, (closed_at - clock.started_at).total_seconds()),
        **_about(clock),
    )
    return met
