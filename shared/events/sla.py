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
    cycle: int = Field(
        default=0,
        ge=0,
        description="Which run of the target: next reply restarts with each customer message "
        "after an agent's reply, resolution with each reopening.",
    )
    team: str | None = Field(default=None, description="The ticket's team.")
    assignee_id: str | None = Field(default=None, description="The ticket's agent, if assigned.")
    priority: Priority | None = Field(default=None, description="The ticket's priority.")
    category: str | None = Field(default=None, description="The ticket's category.")
    colour: Colour = Field(default="green", description="The ticket's colour now.")


class SlaStarted(_SlaEvent):
    """A target's clock started.

    Produced by: sla. Consumed by: notifier (live consoles), reporting.
    """

    event_type: Literal["sla.started"] = Field(default="sla.started", description="Discriminator.")
    due_at: AwareDatetime | None = Field(
        description="When the target falls due; none if the ticket is paused at the start."
    )
    target_seconds: float = Field(ge=0, description="The target's length, in business time.")
    policy: str = Field(default="default", description="The SLA policy that applies.")
    calendar: str | None = Field(default=None, description="The business calendar it runs on.")


class SlaPaused(_SlaEvent):
    """A clock stopped while the ticket waits on the customer or is on hold.

    Produced by: sla. Consumed by: notifier, reporting.
    """

    event_type: Literal["sla.paused"] = Field(default="sla.paused", description="Discriminator.")
    remaining_seconds: float = Field(
        description="Business time left on the target when paused (negative once overdue)."
    )
    reason: str = Field(default="", description="The ticket's status that paused it.")


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
    remaining_seconds: float = Field(description="Business time left.")
    prompt: str | None = Field(
        default=None,
        description="An action the policy asks for at this point, such as `call_customer`; "
        "none for a plain warning level.",
        examples=["call_customer"],
    )


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
    due_at: AwareDatetime | None = Field(
        description="The deadline it beat; none if met while the clock was paused."
    )
    used_seconds: float = Field(ge=0, description="Business time used of the target.")
    target_seconds: float = Field(default=0, ge=0, description="The target, in business time.")


class SlaRecomputed(_SlaEvent):
    """A running or paused target got a new length or calendar and so a new deadline.

    The priority, category, plan, team (and so calendar) or the policies changed; the
    business time already used is kept. Produced by: sla. Consumed by: notifier, consoles.
    """

    event_type: Literal["sla.recomputed"] = Field(
        default="sla.recomputed", description="Discriminator."
    )
    due_at: AwareDatetime | None = Field(description="The new deadline; none while paused.")
    target_seconds: float = Field(ge=0, description="The new target, in business time.")
    used_seconds: float = Field(ge=0, description="Business time used so far.")
    policy: str = Field(description="The SLA policy that applies now.")
    calendar: str | None = Field(default=None, description="The calendar it runs on now.")
    reason: str = Field(description="What changed, in words.")


SlaEvent = Annotated[
    SlaStarted | SlaPaused | SlaResumed | SlaWarning | SlaBreached | SlaMet | SlaRecomputed,
    Field(discriminator="event_type"),
]
