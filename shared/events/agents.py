"""Agents' presence: topic `agents`, keyed by agent id."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from shared.events.envelope import Event

Presence = Literal["online", "away", "offline"]


class AgentPresenceChanged(Event):
    """An agent came online, stepped away or went offline.

    Produced by: router (its presence HTTP API), agents' consoles, telephony or chat systems.
    Consumed by: router (only online agents get work; an agent coming online takes queued tickets).
    """

    topic_key: ClassVar[str] = "agent_id"

    event_type: Literal["agent.presence_changed"] = Field(
        default="agent.presence_changed", description="Discriminator."
    )
    agent_id: str = Field(description="The agent.", examples=["ag-nika"])
    presence: Presence = Field(description="Whether the agent can take work now.")
    source: str = Field(
        default="http", description="Who reported it: http, console, telephony, ...."
    )


AgentEvent = Annotated[AgentPresenceChanged, Field(discriminator="event_type")]
