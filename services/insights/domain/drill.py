"""Drill-down: the tickets behind a figure (`over 8 business hours`, `CSAT <= 2`, `transferred
3+ times`), and the one row shape the drill-down and the CSV export show of a ticket."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from services.insights.domain.facts import TicketFact
from services.insights.domain.measures import Measures
from services.insights.domain.metrics import Dimension, group_of
from shared.events.sla import Metric


class Drill(BaseModel):
    """Which tickets: opened in the window, in a group, and meeting every condition given."""

    dimension: Dimension | None = None
    group: str | None = Field(default=None, description="The dimension's value.")
    first_response_over_business_hours: float | None = Field(default=None, ge=0)
    resolve_over_business_hours: float | None = Field(default=None, ge=0)
    queue_wait_over_minutes: float | None = Field(default=None, ge=0)
    csat_at_most: int | None = Field(default=None, ge=1, le=5)
    transfers_at_least: int | None = Field(default=None, ge=0)
    reopened: bool | None = None
    resolved: bool | None = None
    first_contact_resolved: bool | None = None
    breached: Metric | None = Field(default=None, description="A target that was breached.")

    def matches(self, fact: TicketFact, m: Measures) -> bool:
        checks = (
            self.group is None or group_of(fact, self.dimension) == self.group,
            _over(m.first_response_business_seconds, self.first_response_over_business_hours, 3600),
            _over(m.resolve_business_seconds, self.resolve_over_business_hours, 3600),
            _over(m.queue_wait_seconds, self.queue_wait_over_minutes, 60),
            self.csat_at_most is None
            or (fact.csat_score is not None and fact.csat_score <= self.csat_at_most),
            self.transfers_at_least is None or fact.transfers >= self.transfers_at_least,
            self.reopened is None or bool(fact.reopened) == self.reopened,
            self.resolved is None or fact.resolved == self.resolved,
            self.first_contact_resolved is None
            or m.first_contact_resolved == self.first_contact_resolved,
            self.breached is None
            or (self.breached in fact.sla and fact.sla[self.breached].outcome == "breached"),
        )
        return all(checks)


def _over(seconds: float | None, limit: float | None, unit: int) -> bool:
    if limit is None:
        return True
    return seconds is not None and seconds > limit * unit


class TicketRow(BaseModel):
    """One ticket as the reports show it: its facts and figures, no personal data."""

    ticket_id: str
    reference: str | None
    opened_at: datetime | None
    status: str
    channel: str | None
    language: str | None
    plan: str | None
    team: str | None
    agent_id: str | None
    agents: int
    tier: str | None
    priority: str | None
    category: str | None
    subcategory: str | None
    item: str | None
    first_response_seconds: float | None
    first_response_business_seconds: float | None
    resolved_at: datetime | None
    resolve_seconds: float | None
    resolve_business_seconds: float | None
    queue_wait_seconds: float | None
    pending_seconds: float
    on_hold_seconds: float
    agent_replies: int
    customer_contacts: int
    transfers: int
    reopened: int
    first_contact_resolved: bool
    sla_first_response: str | None
    sla_resolution: str | None
    csat_score: int | None
    repeat_of: str | None


def row_of(fact: TicketFact, m: Measures) -> TicketRow:
    def outcome(metric: str) -> str | None:
        target = fact.sla.get(metric)
        return target.outcome if target else None

    return TicketRow(
        ticket_id=fact.ticket_id,
        reference=fact.reference,
        opened_at=fact.opened_at,
        status=fact.status,
        channel=fact.channel,
        language=fact.language,
        plan=fact.plan,
        team=fact.team,
        agent_id=fact.agent_id,
        agents=len(fact.agents),
        tier=fact.tier,
        priority=fact.priority,
        category=fact.category,
        subcategory=fact.subcategory,
        item=fact.item,
        first_response_seconds=m.first_response_seconds,
        first_response_business_seconds=m.first_response_business_seconds,
        resolved_at=fact.resolved_at,
        resolve_seconds=m.resolve_seconds,
        resolve_business_seconds=m.resolve_business_seconds,
        queue_wait_seconds=m.queue_wait_seconds,
        pending_seconds=m.pending_seconds,
        on_hold_seconds=m.on_hold_seconds,
        agent_replies=fact.agent_replies,
        customer_contacts=fact.customer_contacts,
        transfers=fact.transfers,
        reopened=fact.reopened,
        first_contact_resolved=m.first_contact_resolved,
        sla_first_response=outcome("first_response"),
        sla_resolution=outcome("resolution"),
        csat_score=fact.csat_score,
        repeat_of=fact.repeat_of,
    )
