"""What a person is told: a `Notice` built from one event, the same for every channel."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.events import (
    Event,
    SlaBreached,
    SlaWarning,
    TicketAssigned,
    TicketEscalated,
    TicketTransfersExceeded,
)
from shared.ids import ticket_reference

NoticeKind = Literal[
    "sla_warning", "sla_breach", "sla_prompt", "assigned", "escalated", "transfers_exceeded"
]
Role = Literal["assignee", "lead", "manager", "on_call", "team"]


class Recipient(BaseModel):
    """A person to tell, with the address and language to reach them in, and why them."""

    model_config = ConfigDict(frozen=True)

    person_id: str
    name: str
    email: str
    language: str = "en"
    role: Role = "assignee"


class Notice(BaseModel):
    """One thing to tell: rendered into an email, a Slack message or a console line.

    Text that came from customers (`subject`, `customer`) is untrusted: every renderer escapes
    it for its medium.
    """

    model_config = ConfigDict(frozen=True)

    kind: NoticeKind
    event_id: str = Field(description="The event told about.")
    event_type: str
    occurred_at: datetime
    ticket_id: str
    reference: str = Field(description="The ticket's short reference, e.g. HD-7K3Q9X.")
    metric: str | None = Field(default=None, description="first_response, next_reply, resolution")
    level_percent: int | None = Field(default=None, description="Share of the target used.")
    due_at: datetime | None = None
    remaining_seconds: float | None = Field(default=None, description="Business time left.")
    overdue_seconds: float | None = Field(default=None, description="How far past due.")
    prompt: str | None = Field(default=None, description="What a policy asks, e.g. call_customer")
    priority: str | None = None
    category: str | None = None
    team: str | None = None
    assignee_id: str | None = None
    from_tier: str | None = None
    to_tier: str | None = None
    transfer_count: int | None = None
    reason: str | None = Field(default=None, description="The router's words, if any.")
    subject: str | None = Field(default=None, description="The ticket's subject (customer text).")
    customer: str | None = Field(default=None, description="The customer (customer text).")
    urgent: bool = Field(default=True, description="False: may wait for working hours.")
    rung: int = Field(default=0, ge=0, description="Rung of the escalation ladder (0: first).")
    escalation_id: str | None = Field(default=None, description="Acknowledge it to stop it.")


def notice_kind(event: Event) -> NoticeKind | None:
    """The kind of notice an event makes, or None for events nobody is told about."""
    if isinstance(event, SlaBreached):
        return "sla_breach"
    if isinstance(event, SlaWarning):
        return "sla_prompt" if event.prompt else "sla_warning"
    if isinstance(event, TicketAssigned):
        return "assigned"
    if isinstance(event, TicketEscalated):
        return "escalated"
    if isinstance(event, TicketTransfersExceeded):
        return "transfers_exceeded"
    return None


def notice_of(event: Event, *, subject: str | None = None, customer: str | None = None) -> Notice:
    """The notice of an event (`notice_kind` must not be None); ticket facts may be added."""
    kind = notice_kind(event)
    if kind is None or event.ticket_id is None:
        raise ValueError(f"nobody is told about {event.event_type}")
    fields: dict[str, object] = {
        "kind": kind,
        "event_id": str(event.event_id),
        "event_type": event.event_type,
        "occurred_at": event.occurred_at,
        "ticket_id": event.ticket_id,
        "reference": ticket_reference(event.ticket_id),
        "subject": subject,
        "customer": customer,
    }
    if isinstance(event, SlaBreached | SlaWarning):
        fields |= {
            "metric": event.metric,
            "due_at": event.due_at,
            "priority": event.priority,
            "category": event.category,
            "team": event.team,
            "assignee_id": event.assignee_id,
        }
    if isinstance(event, SlaWarning):
        fields |= {
            "level_percent": event.level_percent,
            "remaining_seconds": max(0.0, event.remaining_seconds),
            "prompt": event.prompt,
        }
    elif isinstance(event, SlaBreached):
        overdue = max(event.occurred_at - event.due_at, timedelta(seconds=event.late_by_seconds))
        fields |= {"level_percent": 100, "overdue_seconds": overdue.total_seconds()}
    elif isinstance(event, TicketAssigned):
        fields |= {"team": event.team, "assignee_id": event.agent_id, "to_tier": event.tier}
        fields["reason"] = event.reason
    elif isinstance(event, TicketEscalated):
        fields |= {"from_tier": event.from_tier, "to_tier": event.to_tier, "reason": event.reason}
    elif isinstance(event, TicketTransfersExceeded):
        fields |= {"team": event.team, "transfer_count": event.transfer_count}
        fields["reason"] = event.reason
    return Notice.model_validate(fields)


METRIC_NAMES = {
    "first_response": "first response",
    "next_reply": "next reply",
    "resolution": "resolution",
}

#: What a policy's prompt asks of the agent, in words.
PROMPTS = {"call_customer": "please phone the customer"}


def describe_duration(seconds: float) -> str:
    """`1 h 5 min`, `3 min 20 s`, `40 s`: short enough for a subject line or a console."""
    total = max(0, round(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")]
    shown = [f"{value} {unit}" for value, unit in parts if value][:2]
    return " ".join(shown) or "0 s"


def line(notice: Notice) -> str:
    """One line in English for a console or a log: `HD-7K3Q9X first response overdue by 5 min`."""
    ref = notice.reference
    metric = METRIC_NAMES.get(notice.metric or "", notice.metric or "")
    if notice.kind == "sla_breach":
        text = f"{ref} {metric} overdue by {describe_duration(notice.overdue_seconds or 0)}"
    elif notice.kind in ("sla_warning", "sla_prompt"):
        left = describe_duration(notice.remaining_seconds or 0)
        text = f"{ref} {metric} {notice.level_percent}% used, {left} left"
        if notice.prompt:
            text += ": " + PROMPTS.get(notice.prompt, notice.prompt.replace("_", " "))
    elif notice.kind == "assigned":
        text = f"{ref} assigned to you: {notice.reason}"
    elif notice.kind == "escalated":
        text = f"{ref} escalated {notice.from_tier} → {notice.to_tier}: {notice.reason}"
    else:
        text = f"{ref} transferred {notice.transfer_count} times: {notice.reason}"
    if notice.rung:
        text += f" (escalation step {notice.rung + 1}: not acknowledged)"
    return text
