"""Who is told what, on which channels: the notice of an event, the ladder step it is, and the
messages of that step (outbox jobs, one console push) and the ladder it opens, decided from
the event and its ticket's board row alone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from services.notifier.domain.board import Row
from services.notifier.domain.chat import WebhookTarget
from services.notifier.domain.deliveries import Job, OutboxChannel
from services.notifier.domain.escalations import Escalation
from services.notifier.domain.ladders import Rules, Step, is_digestible
from services.notifier.domain.notices import Notice, Recipient, line, notice_of
from services.notifier.domain.recipients import addressee, recipients, send_after
from shared.events import Event, NotificationPushed
from shared.ids import derived_id


class NobodyToTell(ValueError):
    """A notice nobody in the directory, and no chat room, can act on: it is dead-lettered
    rather than dropped unseen."""


@dataclass(frozen=True)
class Messages:
    """What one step of a ladder sends: outbox jobs and the console push, and who they reach."""

    jobs: list[Job] = field(default_factory=list)
    pushed: NotificationPushed | None = None
    people: list[Recipient] = field(default_factory=list)
    reached: int = 0


@dataclass(frozen=True)
class Told:
    """Everything one event's notice makes: its messages and the ladder it opens, if any."""

    notice: Notice
    messages: Messages
    escalation: Escalation | None


def notice_for(event: Event, row: Row | None) -> Notice:
    """The event's notice, with what the board knows of the ticket (router events other than
    assignment carry neither team nor agent)."""
    row = row or {}
    notice = notice_of(event, subject=row.get("subject"), customer=row.get("customer"))
    return notice.model_copy(
        update={
            "team": notice.team or row.get("team"),
            "assignee_id": notice.assignee_id or row.get("assignee_id"),
            "priority": notice.priority or row.get("priority"),
            "category": notice.category or row.get("category"),
        }
    )


def people_of(step: Step, notice: Notice, rules: Rules) -> list[Recipient]:
    """Who the step tells: the person the event names, if it names one; else its roles'."""
    if notice.addressee_id is not None:
        found = addressee(notice.addressee_id, directory=rules.directory)
        return [found] if found else []
    return recipients(
        step.notify,
        team=notice.team,
        assignee_id=notice.assignee_id,
        directory=rules.directory,
        config=rules.ladders,
    )


def _job(
    notice: Notice,
    *,
    key: str,
    recipient: str,
    address: str,
    person: Recipient | None,
    send_at: datetime,
    now: datetime,
    rules: Rules,
) -> Job:
    channel: OutboxChannel = "email" if person is not None else "webhook"
    digestible = is_digestible(notice, channel, rules.ladders)
    return Job(
        key=key,
        channel=channel,
        recipient=recipient,
        address=address,
        person=person,
        notice=notice,
        ticket_id=notice.ticket_id,
        cause_event_id=notice.event_id,
        send_at=send_at,
        created_at=now,
        # Its digest slot is found once the outbox says when the last one was scheduled.
        fold_key=f"{recipient}:{channel}" if digestible else None,
    )


def messages(
    notice: Notice,
    step: Step,
    people: Sequence[Recipient],
    targets: Sequence[WebhookTarget],
    *,
    now: datetime,
    acknowledge_by: datetime | None,
    rules: Rules,
) -> Messages:
    """The step's emails and webhook calls (before digest slots) and its push."""
    suffix = f"#{step.rung}" if step.rung else ""
    jobs: list[Job] = []
    pushed = None
    reached = 0
    for channel in step.channels:
        if channel == "push":
            reached += len(people)
            if people:
                pushed = push_of(notice, step, people, acknowledge_by)
        elif channel == "email":
            for person in people:
                reached += 1
                at = send_after(
                    person,
                    urgent=notice.urgent,
                    now=now,
                    directory=rules.directory,
                    calendars=rules.calendars,
                    config=rules.ladders,
                )
                key = f"{notice.event_id}:{person.person_id}:email{suffix}"
                jobs.append(
                    _job(
                        notice,
                        key=key,
                        recipient=person.person_id,
                        address=person.email,
                        person=person,
                        send_at=at,
                        now=now,
                        rules=rules,
                    )
                )
        else:
            for target in (t for t in targets if t.wants(notice)):
                reached += 1
                jobs.append(
                    _job(
                        notice,
                        key=f"{notice.event_id}:{target.name}:webhook{suffix}",
                        recipient=target.name,
                        # The name, not the URL: a chat tool's webhook URL is itself a secret.
                        address=f"webhook:{target.name}",
                        person=None,
                        send_at=now,
                        now=now,
                        rules=rules,
                    )
                )
    return Messages(jobs=jobs, pushed=pushed, people=list(people), reached=reached)


def push_of(
    notice: Notice, step: Step, people: Sequence[Recipient], acknowledge_by: datetime | None
) -> NotificationPushed:
    return NotificationPushed(
        event_id=derived_id(notice.event_id, "push", step.rung),
        # The event wants a ticket id: a notice about none (an agent's sign, a report) has an
        # empty one, which consoles show without a reference.
        ticket_id=notice.ticket_id or "",
        causation_id=notice.event_id,
        correlation_id=notice.correlation_id,
        recipients=[p.person_id for p in people],
        kind=notice.kind,
        cause_event_id=notice.event_id,
        text=line(notice),
        escalation_id=notice.escalation_id,
        metric=notice.metric,
        level=step.level,
        rung=step.rung,
        rungs=step.rungs,
        acknowledge_by=acknowledge_by,
    )


def tell(
    notice: Notice,
    step: Step,
    targets: Sequence[WebhookTarget],
    *,
    now: datetime,
    rules: Rules,
) -> Told:
    """The first step of a notice: its messages, and the ladder it opens when it may climb.
    Raises `NobodyToTell` when it reaches nobody."""
    climbs = step.acknowledge_within is not None and step.rungs > 1 and bool(notice.ticket_id)
    escalation_id = str(derived_id(notice.event_id, "escalation")) if climbs else None
    notice = notice.model_copy(update={"urgent": step.urgent, "escalation_id": escalation_id})
    acknowledge_by = now + step.acknowledge_within if step.acknowledge_within else None
    people = people_of(step, notice, rules)
    sent = messages(
        notice, step, people, targets, now=now, acknowledge_by=acknowledge_by, rules=rules
    )
    if not sent.reached:
        about = f"of ticket {notice.ticket_id}" if notice.ticket_id else "(no ticket)"
        named = f" and person {notice.addressee_id!r}" if notice.addressee_id else ""
        raise NobodyToTell(
            f"nobody to tell about {notice.event_type} {about}: team {notice.team!r} and "
            f"assignee {notice.assignee_id!r}{named} match nobody for {list(step.notify)}"
        )
    escalation = None
    if escalation_id is not None and notice.ticket_id is not None:
        escalation = Escalation(
            escalation_id=escalation_id,
            ticket_id=notice.ticket_id,
            metric=notice.metric or "",
            level=step.level,
            team=notice.team,
            notice=notice,
            rung=0,
            rungs=step.rungs,
            raised_at=now,
            next_at=acknowledge_by,
            told=[p.person_id for p in people],
        )
    return Told(notice, sent, escalation)
