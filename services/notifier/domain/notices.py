"""What a person is told: a `Notice` built from one event, the same for every channel.

Most notices are about a ticket; a sign of poor service may be about an agent alone, and a
monthly report is about a manager's teams, so neither need name a ticket."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.events import (
    CategoryLine,
    Event,
    SignalKind,
    SlaBreached,
    SlaWarning,
    TicketAssigned,
    TicketEscalated,
    TicketTransfersExceeded,
)
from shared.ids import ticket_reference

#: Notices about a ticket: the ones a chat room may be told of.
TicketNoticeKind = Literal[
    "sla_warning", "sla_breach", "sla_prompt", "assigned", "escalated", "transfers_exceeded"
]
NoticeKind = TicketNoticeKind | Literal["signal", "monthly_report"]
Role = Literal["assignee", "lead", "manager", "on_call", "team"]


class Recipient(BaseModel):
    """A person to tell, with the address and language to reach them in, and why them."""

    model_config = ConfigDict(frozen=True)

    person_id: str
    name: str
    email: str
    language: str = "en"
    role: Role = "assignee"


#: How a sign's value (and its threshold) is measured; kinds not listed are plain numbers.
SIGNAL_UNITS: dict[str, Literal["duration", "transfers", "score"]] = {
    "queue_wait": "duration",
    "reply_wait": "duration",
    "over_capacity": "duration",
    "off_shift": "duration",
    "passed_around": "transfers",
    "low_csat": "score",
}
#: A satisfaction survey's top score (its link offers 1 to 5).
TOP_SCORE = 5


class SignalFacts(BaseModel):
    """A sign of poor service, as the insights service raised it."""

    model_config = ConfigDict(frozen=True)

    kind: SignalKind
    agent_id: str | None = None
    agent_name: str | None = Field(default=None, description="From the directory.")
    value: float | None = Field(default=None, description="Seconds, transfers, a score...")
    threshold: float | None = None
    detail: str = Field(default="", description="What happened, in the insights' words.")


class ReportFacts(BaseModel):
    """A manager's monthly category report."""

    model_config = ConfigDict(frozen=True)

    month: str = Field(examples=["2026-01"])
    teams: tuple[str, ...] = ()
    tickets: int = Field(ge=0)
    previous_tickets: int = Field(ge=0)
    lines: tuple[CategoryLine, ...] = Field(default=(), description="The tree, depth first.")
    link: str | None = None


class Notice(BaseModel):
    """One thing to tell: rendered into an email, a Slack message or a console line.

    Text that came from customers (`subject`, `customer`) is untrusted: every renderer escapes
    it for its medium.
    """

    model_config = ConfigDict(frozen=True)

    kind: NoticeKind
    event_id: str = Field(description="The event told about.")
    event_type: str
    correlation_id: str | None = Field(
        default=None, description="The chain it belongs to: the contact's id, else the event's."
    )
    occurred_at: datetime
    ticket_id: str | None = Field(description="None for a notice about no ticket.")
    reference: str | None = Field(description="The ticket's short reference, e.g. HD-7K3Q9X.")
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
    addressee_id: str | None = Field(
        default=None,
        description="The person the event is for (a report's manager); else "
        "the ladder step's roles say who is told.",
    )
    signal: SignalFacts | None = Field(default=None, description="Kind `signal` only.")
    report: ReportFacts | None = Field(default=None, description="Kind `monthly_report` only.")

    @model_validator(mode="after")
    def _facts_of_its_kind(self) -> Notice:
        if (self.kind == "signal") != (self.signal is not None):
            raise ValueError("a signal notice, and only one, carries the signal's facts")
        if (self.kind == "monthly_report") != (self.report is not None):
            raise ValueError("a monthly report notice, and only one, carries the report")
        if self.ticket_id is None and self.kind not in ("signal", "monthly_report"):
            raise ValueError(f"a {self.kind} notice is about a ticket")
        return self


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
        "correlation_id": event.correlation_id or str(event.event_id),
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


#: Signs of poor service in words, for a console line.
SIGNAL_NAMES = {
    "queue_wait": "long wait in the queue",
    "reply_wait": "long wait for a reply",
    "passed_around": "passed around too often",
    "repeat_contact": "customer had to get in touch again",
    "another_channel": "customer came back by another channel",
    "negative_wording": "negative wording in a reply",
    "website_only": "reply only pointed to the website",
    "over_capacity": "agent over capacity",
    "off_shift": "agent working outside their shift",
    "low_csat": "low satisfaction score",
}


def plain_number(value: float) -> str:
    """`3`, `0.35`: no trailing zeros."""
    return str(int(value)) if value == int(value) else f"{value:.2f}".rstrip("0")


def describe_measure(kind: str, value: float) -> str:
    """A sign's value (or threshold) in English, in its unit: `45 min`, `4 transfers`."""
    unit = SIGNAL_UNITS.get(kind)
    if unit == "duration":
        return describe_duration(value)
    if unit == "transfers":
        return f"{plain_number(value)} transfers"
    if unit == "score":
        return f"{plain_number(value)} of {TOP_SCORE}"
    return plain_number(value)


def _signal_line(notice: Notice, signal: SignalFacts) -> str:
    """`HD-7K3Q9X coaching notice: low satisfaction score (Nika Ahmadi): 2 of 5 ...`."""
    name = SIGNAL_NAMES.get(signal.kind, signal.kind)
    opening = f"{notice.reference} coaching notice" if notice.reference else "Coaching notice"
    text = f"{opening}: {name}"
    if agent := signal.agent_name or signal.agent_id:
        text += f" ({agent})"
    if signal.value is not None:
        text += f": {describe_measure(signal.kind, signal.value)}"
        if signal.threshold is not None:
            text += f" (threshold {describe_measure(signal.kind, signal.threshold)})"
    return text + (f" — {signal.detail}" if signal.detail else "")


def _report_line(report: ReportFacts) -> str:
    change = report.tickets - report.previous_tickets
    return (
        f"Monthly report {report.month}: {report.tickets} tickets ({change:+d} on the month before)"
    )


def line(notice: Notice) -> str:
    """One line in English for a console or a log: `HD-7K3Q9X first response overdue by 5 min`."""
    if notice.signal is not None:
        return _signal_line(notice, notice.signal)
    if notice.report is not None:
        return _report_line(notice.report)
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
