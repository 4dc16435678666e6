"""One fact record per ticket, folded from every event about it, in whatever order they arrive.

Events of one ticket come from three topics (tickets, routing, sla), so a `ticket.routed` may be
read before the `ticket.opened` it follows. Each event therefore sets what it knows and nothing
depends on arrival order: times are the events' own `occurred_at`, the status history is kept
sorted by time, counts come from sets of event ids. A fact remembers the ids of the events
applied to it (saved in the same write), so a redelivered event changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from shared.events import (
    Event,
    SlaBreached,
    SlaMet,
    SlaStarted,
    TicketAgentReplied,
    TicketAssigned,
    TicketContactAppended,
    TicketCsatReceived,
    TicketEscalated,
    TicketOpened,
    TicketPriorityChanged,
    TicketQueued,
    TicketRouted,
    TicketStatusChanged,
    TicketTransferred,
)

#: What the fold reads from the tickets, routing and SLA topics; nothing else changes a fact.
FactInput = Annotated[
    TicketOpened
    | TicketContactAppended
    | TicketAgentReplied
    | TicketStatusChanged
    | TicketPriorityChanged
    | TicketCsatReceived
    | TicketRouted
    | TicketAssigned
    | TicketQueued
    | TicketTransferred
    | TicketEscalated
    | SlaStarted
    | SlaMet
    | SlaBreached,
    Field(discriminator="event_type"),
]
ACTED_ON = frozenset(
    {
        "ticket.opened",
        "ticket.contact_appended",
        "ticket.agent_replied",
        "ticket.status_changed",
        "ticket.priority_changed",
        "ticket.csat_received",
        "ticket.routed",
        "ticket.assigned",
        "ticket.queued",
        "ticket.transferred",
        "ticket.escalated",
        "sla.started",
        "sla.met",
        "sla.breached",
    }
)

#: Event ids a fact remembers; a ticket with more events than this is a conversation far past
#: any redelivery window, and the oldest ids are let go.
REMEMBERED = 500
#: Assignments a fact keeps, the latest (a ticket passed around more is an exception).
ASSIGNMENTS = 50
#: Reply times a fact keeps, the latest (the count goes on past it).
REPLY_TIMES = 200

TIERS = ("L1", "L2", "L3")
CLOSED = ("resolved", "closed")
#: Statuses in which the ticket waits on the customer or a third party: no business time runs.
WAITING = ("pending", "on_hold")
Outcome = Literal["met", "breached"]


class StatusChange(BaseModel):
    at: datetime
    status: str


class Assignment(BaseModel):
    at: datetime
    agent_id: str


class Target(BaseModel):
    """The latest decided outcome of one SLA target."""

    outcome: Outcome
    cycle: int
    at: datetime
    used_seconds: float | None = None
    target_seconds: float | None = None


class TicketFact(BaseModel):
    """What the reports know of one ticket. No names, addresses or message text."""

    ticket_id: str
    reference: str | None = None
    customer_id: str | None = None
    channel: str | None = None
    language: str | None = None
    plan: str | None = None
    category: str | None = None
    subcategory: str | None = None
    item: str | None = None
    priority: str | None = None
    priority_changed: bool = Field(default=False, description="Set by hand after routing.")
    team: str | None = None
    team_at: datetime | None = None
    agent_id: str | None = Field(default=None, description="The latest assignee.")
    agent_at: datetime | None = None
    agents: list[str] = Field(default_factory=list, description="Everyone assigned, in order.")
    assignments: list[Assignment] = Field(
        default_factory=list, description="Who held it from when, by time (the latest kept)."
    )
    held: str | None = Field(
        default=None, description="`agent|channel` as the agents' holdings last counted it."
    )
    tier: str | None = Field(default=None, description="The highest tier reached.")
    opened_at: datetime | None = None
    first_assigned_at: datetime | None = None
    first_response_at: datetime | None = None
    queued_at: datetime | None = Field(default=None, description="When it last joined a queue.")
    last_customer_at: datetime | None = Field(
        default=None, description="The customer's latest contact (the opening one included)."
    )
    reply_times: list[datetime] = Field(default_factory=list)
    agent_replies: int = 0
    customer_contacts: int = Field(default=0, description="Contacts after the opening one.")
    statuses: list[StatusChange] = Field(default_factory=list, description="Sorted by time.")
    reopened: int = 0
    transfers: int = 0
    escalations: int = 0
    repeat_of: str | None = None
    repeat_channel: str | None = Field(
        default=None, description="The channel of the ticket it repeats, when that was known."
    )
    calendar: str | None = Field(default=None, description="The SLA calendar of the ticket.")
    sla: dict[str, Target] = Field(default_factory=dict, description="By target (metric).")
    csat_score: int | None = None
    csat_at: datetime | None = None
    armed: dict[str, str] = Field(
        default_factory=dict, description="The timers armed for it: kind -> key and due time."
    )
    applied: list[str] = Field(default_factory=list, description="Ids of the events applied.")
    version: int = Field(default=0, description="Writes so far (the store's concurrency guard).")

    @property
    def status(self) -> str:
        return self.statuses[-1].status if self.statuses else "open"

    @property
    def resolved(self) -> bool:
        return self.status in CLOSED

    @property
    def resolved_at(self) -> datetime | None:
        """When it was last resolved, if it is resolved now."""
        if not self.resolved:
            return None
        return self.statuses[-1].at

    @property
    def settled_at(self) -> datetime | None:
        """Stored beside the fact so a report reads only tickets open at some point of its
        window: the last resolution while resolved, else None."""
        return self.resolved_at

    @property
    def last_reply_at(self) -> datetime | None:
        return self.reply_times[-1] if self.reply_times else None

    @property
    def waiting_since(self) -> datetime | None:
        """Since when the customer has waited for an agent's reply: their latest contact not
        yet answered, or the end of the last pause after it; None if nobody owes a reply."""
        if self.opened_at is None or self.status in CLOSED or self.status in WAITING:
            return None
        customer = self.last_customer_at or self.opened_at
        reply = self.last_reply_at
        if reply is not None and reply >= customer:
            return None
        resumed = [c.at for c in self.statuses if c.at > customer]
        return max([customer, *resumed])

    @property
    def waiting_in_queue_since(self) -> datetime | None:
        """Since when it has waited in a queue with nobody assigned after; None otherwise."""
        if self.queued_at is None or self.status in CLOSED:
            return None
        if self.agent_at is not None and self.agent_at >= self.queued_at:
            return None
        return self.queued_at

    @property
    def holder(self) -> str | None:
        """`agent|channel` while an agent holds it open now; None otherwise."""
        if self.opened_at is None or self.resolved or self.agent_id is None:
            return None
        return f"{self.agent_id}|{self.channel or 'email'}"

    def open_spans(self, until: datetime) -> list[tuple[datetime, datetime]]:
        """The stretches before `until` it was open (not resolved or closed)."""
        if self.opened_at is None or self.opened_at >= until:
            return []
        spans: list[tuple[datetime, datetime]] = []
        start: datetime | None = self.opened_at
        for change in self.statuses:
            if change.at >= until:
                break
            if change.status in CLOSED and start is not None:
                if change.at > start:
                    spans.append((start, change.at))
                start = None
            elif change.status not in CLOSED and start is None:
                start = change.at
        if start is not None:
            spans.append((start, until))
        return spans

    def holding_spans(self, until: datetime) -> list[tuple[str, datetime, datetime]]:
        """(agent, from, to): the stretches each agent held it open."""
        held: list[tuple[str, datetime, datetime]] = []
        for index, assignment in enumerate(self.assignments):
            end = self.assignments[index + 1].at if index + 1 < len(self.assignments) else until
            for low, high in self.open_spans(until):
                start, stop = max(low, assignment.at), min(high, end)
                if stop > start:
                    held.append((assignment.agent_id, start, stop))
        return held

    def status_at(self, instant: datetime) -> str | None:
        """The status at `instant`: None before it opened."""
        if self.opened_at is None or instant < self.opened_at:
            return None
        current = "open"
        for change in self.statuses:
            if change.at > instant:
                break
            current = change.status
        return current

    def waiting_intervals(self, until: datetime) -> list[tuple[datetime, datetime]]:
        """The stretches before `until` spent waiting on the customer (pending, on hold)."""
        spans: list[tuple[datetime, datetime]] = []
        since: datetime | None = None
        for change in self.statuses:
            if change.at >= until:
                break
            if change.status in WAITING and since is None:
                since = change.at
            elif change.status not in WAITING and since is not None:
                spans.append((since, change.at))
                since = None
        if since is not None:
            spans.append((since, until))
        return spans

    def seconds_in(self, status: str, until: datetime) -> float:
        """Calendar seconds spent in `status` before `until`."""
        total = 0.0
        for index, change in enumerate(self.statuses):
            if change.at >= until:
                break
            if change.status != status:
                continue
            end = self.statuses[index + 1].at if index + 1 < len(self.statuses) else until
            total += (min(end, until) - change.at).total_seconds()
        return total


def _higher_tier(current: str | None, seen: str | None) -> str | None:
    if seen is None:
        return current
    if current is None:
        return seen
    return max(current, seen, key=TIERS.index)


def _team(fact: TicketFact, team: str, at: datetime) -> dict[str, object]:
    """The team, if this event is the latest word on it."""
    if fact.team_at is not None and at < fact.team_at:
        return {}
    return {"team": team, "team_at": at}


def _latest(current: datetime | None, seen: datetime) -> datetime:
    return seen if current is None or seen > current else current


def _earliest(current: datetime | None, seen: datetime) -> datetime:
    return seen if current is None or seen < current else current


def apply(fact: TicketFact | None, event: Event) -> TicketFact:
    """The fact with `event` taken in; the same fact if it was applied before."""
    if event.ticket_id is None:
        raise ValueError(f"{event.event_type} names no ticket")
    fact = fact or TicketFact(ticket_id=event.ticket_id)
    event_id = str(event.event_id)
    if event_id in fact.applied:
        return fact
    update = _changes(fact, event)
    update["applied"] = [*fact.applied, event_id][-REMEMBERED:]
    return fact.model_copy(update=update)


def _changes(fact: TicketFact, event: Event) -> dict[str, object]:
    at = event.occurred_at
    if isinstance(event, TicketOpened):
        return {
            "reference": event.reference,
            "customer_id": event.customer_id,
            "channel": event.channel,
            "language": fact.language or event.language,
            "plan": event.customer_plan,
            "opened_at": at,
            "repeat_of": event.repeat_of,
            "last_customer_at": _latest(fact.last_customer_at, at),
        }
    if isinstance(event, TicketRouted):
        return {
            "category": event.category,
            "subcategory": event.subcategory,
            "item": event.item,
            "priority": fact.priority if fact.priority_changed else event.priority,
            **_team(fact, event.team, at),
            "tier": _higher_tier(fact.tier, event.tier),
            "language": fact.language or event.language,
            "channel": fact.channel or event.channel,
            "plan": fact.plan or event.customer_plan,
        }
    if isinstance(event, TicketAssigned):
        latest = fact.agent_at is None or at >= fact.agent_at
        return {
            "agent_id": event.agent_id if latest else fact.agent_id,
            "agent_at": at if latest else fact.agent_at,
            "agents": list(dict.fromkeys([*fact.agents, event.agent_id])),
            "assignments": sorted(
                [*fact.assignments, Assignment(at=at, agent_id=event.agent_id)],
                key=lambda a: a.at,
            )[-ASSIGNMENTS:],
            **_team(fact, event.team, at),
            "tier": _higher_tier(fact.tier, event.tier),
            "first_assigned_at": _earliest(fact.first_assigned_at, at),
        }
    if isinstance(event, TicketQueued):
        return {
            **_team(fact, event.team, at),
            "tier": _higher_tier(fact.tier, event.tier),
            "queued_at": _latest(fact.queued_at, at),
        }
    if isinstance(event, TicketTransferred):
        return {
            "transfers": max(fact.transfers, event.transfer_count),
            **_team(fact, event.to_team, at),
        }
    if isinstance(event, TicketEscalated):
        return {"escalations": fact.escalations + 1, "tier": _higher_tier(fact.tier, event.to_tier)}
    if isinstance(event, TicketAgentReplied):
        times = sorted([*fact.reply_times, at])[-REPLY_TIMES:]
        return {
            "agent_replies": fact.agent_replies + 1,
            "reply_times": times,
            "first_response_at": _earliest(fact.first_response_at, at),
        }
    if isinstance(event, TicketContactAppended):
        return {
            "customer_contacts": fact.customer_contacts + 1,
            "last_customer_at": _latest(fact.last_customer_at, at),
        }
    if isinstance(event, TicketStatusChanged):
        statuses = sorted(
            [*fact.statuses, StatusChange(at=at, status=event.status)], key=lambda c: c.at
        )
        return {
            "statuses": statuses,
            "reopened": fact.reopened + (event.status == "reopened"),
        }
    if isinstance(event, TicketPriorityChanged):
        return {"priority": event.priority, "priority_changed": True}
    if isinstance(event, TicketCsatReceived):
        if fact.csat_at is not None and at < fact.csat_at:
            return {}  # An older answer read after a newer one: the newer stands.
        return {"csat_score": event.score, "csat_at": at}
    if isinstance(event, SlaStarted):
        return {"calendar": event.calendar or fact.calendar}
    if isinstance(event, SlaMet | SlaBreached):
        return {"sla": _decided(fact, event)}
    return {}


def _decided(fact: TicketFact, event: SlaMet | SlaBreached) -> dict[str, Target]:
    """The targets with this decision, unless a later cycle of the same target is known."""
    known = fact.sla.get(event.metric)
    if known is not None and (known.cycle, known.at) > (event.cycle, event.occurred_at):
        return fact.sla
    if isinstance(event, SlaMet):
        target = Target(
            outcome="met",
            cycle=event.cycle,
            at=event.occurred_at,
            used_seconds=event.used_seconds,
            target_seconds=event.target_seconds,
        )
    else:
        target = Target(outcome="breached", cycle=event.cycle, at=event.occurred_at)
    return {**fact.sla, event.metric: target}
