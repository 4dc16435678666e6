"""Routing decisions: topic `routing`, keyed by ticket id. Each carries its reason in words."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from shared.events.envelope import Event
from shared.events.tickets import Channel, Priority, Tier

QueueOrder = Literal["fifo", "priority", "easiest_first"]
TransferCause = Literal["agent_request", "escalation", "acknowledgement_timeout"]


class TicketRouted(Event):
    """The router classified the ticket and chose its priority, tier and team.

    Produced by: router. Consumed by: sla (starts the clocks), notifier (projection).
    """

    event_type: Literal["ticket.routed"] = Field(
        default="ticket.routed", description="Discriminator."
    )
    ticket_id: str = Field(description="The routed ticket.")
    category: str = Field(
        description="Category; `uncategorised` when the classifier was not confident enough.",
        examples=["network"],
    )
    subcategory: str | None = Field(default=None, description="Subcategory.", examples=["wifi"])
    item: str | None = Field(default=None, description="Affected item.", examples=["router"])
    confidence: float | None = Field(
        default=None, ge=0, le=1, description="The classifier's confidence in the category."
    )
    skill: str | None = Field(default=None, description="Skill an agent needs for it.")
    difficulty: Literal["easy", "medium", "hard"] | None = Field(
        default=None, description="How hard this kind of problem is."
    )
    technical_level: Literal["novice", "intermediate", "expert"] | None = Field(
        default=None, description="The customer's estimated technical level."
    )
    language: str | None = Field(default=None, description="Language an agent must speak.")
    channel: Channel | None = Field(default=None, description="Channel of the opening contact.")
    impact: Literal["high", "medium", "low"] = Field(description="How much of the business is hit.")
    urgency: Literal["high", "medium", "low"] = Field(description="How soon it must be fixed.")
    priority: Priority = Field(description="Priority from the impact x urgency matrix.")
    tier: Tier = Field(description="Support tier it starts at.")
    team: str = Field(description="Team that owns it.")
    customer_plan: str = Field(default="standard", description="The customer's plan.")
    reason: str = Field(description="Why, in words.")


class TicketAssigned(Event):
    """The ticket was given to an agent.

    Produced by: router. Consumed by: sla (knows the assignee), notifier (who to tell).
    """

    event_type: Literal["ticket.assigned"] = Field(
        default="ticket.assigned", description="Discriminator."
    )
    ticket_id: str = Field(description="The assigned ticket.")
    agent_id: str = Field(description="The agent.")
    team: str = Field(description="The agent's team.")
    tier: Tier | None = Field(default=None, description="The ticket's tier.")
    acknowledge_by: AwareDatetime | None = Field(
        default=None,
        description="The agent must touch the ticket by then, or it goes to the next agent.",
    )
    reason: str = Field(description="Why this agent, in words.")


class TicketQueued(Event):
    """Nobody qualified was free: the ticket waits in its team's queue.

    Produced by: router. Consumed by: notifier (team queue views), sla (no assignee).
    """

    event_type: Literal["ticket.queued"] = Field(
        default="ticket.queued", description="Discriminator."
    )
    ticket_id: str = Field(description="The queued ticket.")
    team: str = Field(description="The team whose queue it waits in.")
    tier: Tier = Field(description="The ticket's tier.")
    priority: Priority = Field(description="The ticket's priority.")
    order: QueueOrder = Field(description="How the team's queue is ordered.")
    reason: str = Field(description="Why nobody took it, in words.")


class TicketTransfersExceeded(Event):
    """A ticket was passed around more often than the limit: a sign of poor service.

    Produced by: router. Consumed by: notifier (tells the team's manager).
    """

    event_type: Literal["ticket.transfers_exceeded"] = Field(
        default="ticket.transfers_exceeded", description="Discriminator."
    )
    ticket_id: str = Field(description="The ticket.")
    team: str = Field(description="The ticket's team now.")
    manager_id: str = Field(description="The manager it is reported to.")
    transfer_count: int = Field(ge=1, description="Transfers of this ticket so far.")
    limit: int = Field(ge=0, description="Transfers allowed before it is reported.")
    reason: str = Field(description="The transfers, in words.")


class TicketTransferred(Event):
    """The ticket moved to another agent or team; every transfer is counted.

    Produced by: router. Consumed by: sla, notifier.
    """

    event_type: Literal["ticket.transferred"] = Field(
        default="ticket.transferred", description="Discriminator."
    )
    ticket_id: str = Field(description="The transferred ticket.")
    from_agent_id: str | None = Field(default=None, description="Previous agent.")
    to_agent_id: str | None = Field(default=None, description="New agent.")
    from_team: str = Field(description="Previous team.")
    to_team: str = Field(description="New team.")
    transfer_count: int = Field(ge=1, description="Transfers of this ticket so far.")
    cause: TransferCause = Field(default="agent_request", description="What moved it.")
    reason: str = Field(description="Why, in words.")


class TicketEscalated(Event):
    """The ticket went up a tier.

    Produced by: router. Consumed by: sla, notifier.
    """

    event_type: Literal["ticket.escalated"] = Field(
        default="ticket.escalated", description="Discriminator."
    )
    ticket_id: str = Field(description="The escalated ticket.")
    from_tier: Tier = Field(description="Tier before.")
    to_tier: Tier = Field(description="Tier now.")
    trigger: Literal["agent_request", "sla_warning"] = Field(
        default="agent_request", description="An agent asked, or an SLA warning level was reached."
    )
    requested_by: str | None = Field(default=None, description="The agent who asked, if any.")
    reason: str = Field(description="Why, in words.")


RoutingEvent = Annotated[
    TicketRouted
    | TicketAssigned
    | TicketQueued
    | TicketTransferred
    | TicketEscalated
    | TicketTransfersExceeded,
    Field(discriminator="event_type"),
]
