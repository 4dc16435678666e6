"""One fact record per ticket: everything the reports read about it (`fold.apply` makes it
from the ticket's events)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

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
