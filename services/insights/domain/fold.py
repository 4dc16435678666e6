"""Folding a ticket's events into its fact, in whatever order they arrive.

Events of one ticket come from three topics (tickets, routing, sla), so a `ticket.routed` may be
read before the `ticket.opened` it follows. Each event therefore sets what it knows and nothing
depends on arrival order: times are the events' own `occurred_at`, the status history is kept
sorted by time, counts come from sets of event ids. A fact remembers the ids of the events
applied to it (saved in the same write), so a redelivered event changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from services.insights.domain.facts import (
    ASSIGNMENTS,
    REMEMBERED,
    REPLY_TIMES,
    TIERS,
    Assignment,
    StatusChange,
    Target,
    TicketFact,
)
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
