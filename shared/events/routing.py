"""Routing decisions: topic `routing`, keyed by ticket id. Each carries its reason in words."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from shared.events.envelope import Event
from shared.events.tickets import Priority, Tier


class TicketRouted(Event):
    """The router classified the ticket and chose its priority, tier and team.

    Produced by: router. Consumed by: sla (starts the clocks), notifier (projection).
    """

    event_type: Literal["ticket.routed"] = Field(
        default="ticket.routed", description="Discriminator."
    )
    ticket_id: str = Field(description="The routed ticket.")
    category: str = Field(description="Category.", examples=["network"])
    subcategory: str | None = Field(default=None, description="Subcategory.", examples=["wifi"])
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
    reason: str = Field(description="Why this agent, in words.")


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
    reason: str = Field(description="Why, in words.")


RoutingEvent = Annotated[
    TicketRouted | TicketAssigned | TicketTransferred | TicketEscalated,
    Field(discriminator="event_type"),
]
