"""Pure notifier logic: who hears about an event, what the email says, what a push carries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from shared.directory import Directory, Person, Team
from shared.events import Event, SlaBreached, SlaWarning, TicketAssigned
from shared.events.notifications import DeliveryChannel
from shared.ids import ticket_reference

Role = Literal["agent", "lead", "manager"]

METRIC_NAMES = {
    "first_response": "First response",
    "next_reply": "Next reply",
    "resolution": "Resolution",
}

#: What a policy's prompt asks of the agent, in words.
PROMPTS = {"call_customer": "please phone the customer"}

#: SLA events somebody must act on: breaches, and warnings that carry a prompt.
Alert = SlaBreached | SlaWarning


def needs_action(event: Event) -> bool:
    """Breaches are emailed; of the warnings, only those asking for an action (a prompt)."""
    return isinstance(event, SlaBreached) or (isinstance(event, SlaWarning) and bool(event.prompt))


@dataclass(frozen=True)
class Recipient:
    """A person to notify, with the address and language to reach them in."""

    person_id: str
    name: str
    email: str
    language: str
    role: Role

    @classmethod
    def of(cls, person: Person, role: Role) -> Recipient:
        return cls(person.person_id, person.name, str(person.email), person.language, role)


def delivery_key(
    event_id: object, recipient_id: str, channel: DeliveryChannel, replica_id: str | None = None
) -> str:
    """One delivery of one event to one person on one channel; the delivery log's id.

    A push names its replica too: each replica pushes to the consoles connected to it, so one
    replica's delivery must not stop another's.
    """
    key = f"{event_id}:{recipient_id}:{channel}"
    return f"{key}:{replica_id}" if replica_id else key


def _team_for(event: Alert, directory: Directory) -> Team | None:
    if event.team:
        return directory.team(event.team)
    return directory.team_of(event.assignee_id) if event.assignee_id else None


def recipients_for(event: Alert, directory: Directory) -> list[Recipient]:
    """Who must act on a breach or a prompt.

    A missed reply (first response, or next reply) and a prompt are the assigned agent's to
    act on; with no agent yet, the team's lead, or its manager when the team has no lead. A
    missed resolution goes to the team's manager. Nobody is returned for a team the directory
    does not know.
    """
    team = _team_for(event, directory)
    if isinstance(event, SlaBreached) and event.metric == "resolution":
        return [Recipient.of(team.manager, "manager")] if team else []
    agent = directory.agent(event.assignee_id) if event.assignee_id else None
    if agent is not None:
        return [Recipient.of(agent, "agent")]
    if team is None:
        return []
    if team.lead is not None:
        return [Recipient.of(team.lead, "lead")]
    return [Recipient.of(team.manager, "manager")]


def no_recipient_reason(event: Alert) -> str:
    """Why a breach or prompt that `recipients_for` finds nobody for cannot be delivered."""
    what = "breach" if isinstance(event, SlaBreached) else f"{event.prompt} prompt"
    return (
        f"no recipient for the {event.metric} {what} of ticket {event.ticket_id}: "
        f"team {event.team!r} and assignee {event.assignee_id!r} match nobody in the directory"
    )


def describe_duration(delta: timedelta) -> str:
    """`1 h 5 min`, `3 min 20 s`, `40 s`: short enough for a subject line or a console."""
    seconds = max(0, round(delta.total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")]
    shown = [f"{value} {unit}" for value, unit in parts if value][:2]
    return " ".join(shown) or "0 s"


def overdue_by(event: SlaBreached) -> timedelta:
    """How far past its deadline the ticket was when the breach was reported."""
    return max(event.occurred_at - event.due_at, timedelta(seconds=event.late_by_seconds))


def render_email(event: Alert, recipient: Recipient) -> tuple[str, str]:
    """Subject and plain-text body of a breach or prompt email.

    The subject starts with the ticket reference in brackets (`[HD-7K3Q9X] ...`) so a reply
    threads back to the ticket in the mail gateway.
    """
    if isinstance(event, SlaWarning):
        return _render_prompt(event, recipient)
    reference = ticket_reference(event.ticket_id)
    metric = METRIC_NAMES.get(event.metric, event.metric)
    subject = f"[{reference}] {metric} overdue"
    if event.priority:
        subject += f" ({event.priority})"
    if recipient.role == "agent":
        ask = "Please reply to the customer now."
    elif event.metric == "resolution":
        ask = "The ticket has run past its resolution target; please step in."
    else:
        ask = "The ticket has no agent yet; please assign someone."
    lines = [
        f"Hello {recipient.name},",
        "",
        f"Ticket {reference} has missed its {metric.lower()} target.",
        "",
        f"Ticket:      {reference} ({event.ticket_id})",
        f"Target:      {metric}",
        f"Due at:      {event.due_at:%Y-%m-%d %H:%M:%S} UTC",
        f"Overdue by:  {describe_duration(overdue_by(event))}",
    ]
    if event.team:
        lines.append(f"Team:        {event.team}")
    if event.priority:
        lines.append(f"Priority:    {event.priority}")
    lines += ["", ask, "", "-- Help desk"]
    return subject, "\n".join(lines) + "\n"


def _render_prompt(event: SlaWarning, recipient: Recipient) -> tuple[str, str]:
    reference = ticket_reference(event.ticket_id)
    ask = PROMPTS.get(event.prompt or "", str(event.prompt).replace("_", " "))
    left = describe_duration(timedelta(seconds=max(0.0, event.remaining_seconds)))
    subject = f"[{reference}] Still open: {ask}"
    lines = [
        f"Hello {recipient.name},",
        "",
        f"Ticket {reference} is still open after {event.level_percent}% of its "
        f"{METRIC_NAMES.get(event.metric, event.metric).lower()} target: {ask}.",
        "",
        f"Ticket:      {reference} ({event.ticket_id})",
        f"Due at:      {event.due_at:%Y-%m-%d %H:%M:%S} UTC",
        f"Time left:   {left} (business time)",
        "",
        "-- Help desk",
    ]
    return subject, "\n".join(lines) + "\n"


def push_recipients(event: Event, directory: Directory) -> list[str]:
    """The people a live console update goes to: the breach's recipients, or the new assignee."""
    if isinstance(event, SlaBreached | SlaWarning):
        return [r.person_id for r in recipients_for(event, directory)]
    if isinstance(event, TicketAssigned):
        return [event.agent_id]
    return []


def push_message(event: Event) -> dict[str, Any]:
    """The JSON a console receives: the event's type, its ticket, a line to show, and the event."""
    ticket_id = event.ticket_id
    reference = ticket_reference(ticket_id) if ticket_id else None
    text: str | None = None
    if isinstance(event, TicketAssigned):
        text = f"{reference} assigned to you: {event.reason}"
    elif isinstance(event, SlaBreached):
        metric = METRIC_NAMES.get(event.metric, event.metric)
        text = f"{reference} {metric.lower()} overdue by {describe_duration(overdue_by(event))}"
    elif isinstance(event, SlaWarning):
        metric = METRIC_NAMES.get(event.metric, event.metric)
        left = describe_duration(timedelta(seconds=max(0.0, event.remaining_seconds)))
        text = f"{reference} {metric.lower()} {event.level_percent}% used, {left} left"
        if event.prompt:
            text += ": " + PROMPTS.get(event.prompt, event.prompt.replace("_", " "))
    return {
        "type": event.event_type,
        "ticket_id": ticket_id,
        "reference": reference,
        "text": text,
        "event": event.model_dump(mode="json"),
    }
