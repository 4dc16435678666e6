"""Service-level clocks and what they report: topic `sla`, keyed by ticket id."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from shared.events.envelope import Event
from shared.events.tickets import Priority

Metric = Literal["first_response", "next_reply", "resolution"]
Colour = Literal["green", "amber", "red"]


class _SlaEvent(Event):
    ticket_id: str = Field(description="The ticket whose clock this is.")
    metric: Metric = Field(description="Which target the clock measures.")
    team: str | None = Field(default=None, description="The ticket's team.")
    assignee_id: str | None = Field(default=None, description="The ticket's agent, if assigned.")
    priority: Priority | None = Field(default=None, description="The ticket's priority.")
    colour: Colour = Field(default="green", description="The ticket's colour now.")


class SlaStarted(_SlaEvent):
    """A target's clock started.

    Produced by: sla. Consumed by: notifier (live consoles), reporting.
    """

    event_type: Literal["sla.started"] = Field(default="sla.started", description="Discriminator.")
    due_at: AwareDatetime = Field(description="When the target falls due.")
    target_seconds: float = Field(ge=0, description="The target's length.")


class SlaPaused(_SlaEvent):
    """A clock stopped while the ticket waits on the customer or is on hold.

    Produced by: sla. Consumed by: notifier, reporting.
    """

    event_type: Literal["sla.paused"] = Field(default="sla.paused", description="Discriminator.")
    remaining_seconds: float = Field(description="Time left on the target when paused.")


class SlaResumed(_SlaEvent):
    """A paused clock runs again, with its deadline moved by the paused time.

    Produced by: sla. Consumed by: notifier, reporting.
    """

    event_type: Literal["sla.resumed"] = Field(default="sla.resumed", description="Discriminator.")
    due_at: AwareDatetime = Field(description="The new deadline.")


class SlaWarning(_SlaEvent):
    """A clock passed a warning level of its target.

    Produced by: sla. Consumed by: notifier (escalation ladder).
    """

    event_type: Literal["sla.warning"] = Field(default="sla.warning", description="Discriminator.")
    level_percent: int = Field(ge=1, le=100, description="Share of the target used.")
    due_at: AwareDatetime = Field(description="When the target falls due.")
    remaining_seconds: float = Field(description="Time left.")


class SlaBreached(_SlaEvent):
    """A target was missed, emitted at its deadline.

    Produced by: sla. Consumed by: notifier (emails the agent or the manager, pushes live).
    """

    event_type: Literal["sla.breached"] = Field(
        default="sla.breached", description="Discriminator."
    )
    due_at: AwareDatetime = Field(description="The deadline that passed.")
    late_by_seconds: float = Field(ge=0, description="How late the event itself was emitted.")


class SlaMet(_SlaEvent):
    """A target was met in time.

    Produced by: sla. Consumed by: reporting (compliance).
    """

    event_type: Literal["sla.met"] = Field(default="sla.met", description="Discriminator.")
    due_at: AwareDatetime = Field(description="The deadline it beat.")
    used_seconds: float = Field(ge=0, description="Time used of the target.")


SlaEvent = Annotated[
    SlaStarted | SlaPaused | SlaResumed | SlaWarning | SlaBreached | SlaMet,
    Field(discriminator="event_type"),
]
