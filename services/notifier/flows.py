"""The work done once per event (the shared consumer group): keep the board, decide who is told
on which channel, enqueue the messages, start and climb escalation ladders, stop them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from faststream.kafka import KafkaBroker

from services.notifier.board import change_of
from services.notifier.board_store import BoardStore
from services.notifier.escalations import Escalation, Escalations
from services.notifier.ladders import (
    NotifierConfig,
    Step,
    digest_slot,
    first_step,
    is_digestible,
    next_step,
    recipients,
    send_after,
)
from services.notifier.notices import Notice, Recipient, line, notice_kind, notice_of
from services.notifier.outbox import Job, Outbox, OutboxChannel
from services.notifier.settings import NotifierSettings
from services.notifier.webhook_store import WebhookStore
from shared.broker import PermanentError, publish_event
from shared.business_calendar import Calendars
from shared.clock import Clock
from shared.directory import Directory
from shared.events import (
    EscalationAcknowledged,
    Event,
    NotificationPushed,
    SlaMet,
    TicketStatusChanged,
)
from shared.events.notifications import EscalationStatus
from shared.ids import derived_id
from shared.logging import get_logger

log = get_logger(__name__)

CLOSED = frozenset({"resolved", "closed"})


@dataclass
class Flows:
    broker: KafkaBroker
    settings: NotifierSettings
    config: NotifierConfig
    directory: Directory
    calendars: Calendars
    outbox: Outbox
    escalations: Escalations
    board: BoardStore
    webhooks: WebhookStore
    clock: Clock
    #: Called when jobs were enqueued or a ladder armed: the loops look again at once.
    on_work: Callable[[], None] = lambda: None

    async def on_event(self, event: Event) -> None:
        """Everything one ticket, routing or SLA event means for the notifier; idempotent."""
        change = change_of(event)
        if change is not None:
            await self.board.apply(change)
        if isinstance(event, SlaMet):
            await self._stop(event, metric=event.metric, reason="the target was met")
        elif isinstance(event, TicketStatusChanged) and event.status in CLOSED:
            await self._stop(event, metric=None, reason=f"the ticket was {event.status}")
        if notice_kind(event) is not None:
            await self._tell(event)

    async def _tell(self, event: Event) -> None:
        row = await self.board.get(event.ticket_id or "") or {}
        notice = notice_of(event, subject=row.get("subject"), customer=row.get("customer"))
        # Router events other than assignment carry neither team nor agent: the board knows.
        notice = notice.model_copy(
            update={
                "team": notice.team or row.get("team"),
                "assignee_id": notice.assignee_id or row.get("assignee_id"),
                "priority": notice.priority or row.get("priority"),
                "category": notice.category or row.get("category"),
            }
        )
        step = first_step(notice, self.config)
        if step is None:
            return
        climbs = step.acknowledge_within is not None and step.rungs > 1
        escalation_id = str(derived_id(event.event_id, "escalation")) if climbs else None
        notice = notice.model_copy(update={"urgent": step.urgent, "escalation_id": escalation_id})
        now = self.clock.now()
        acknowledge_by = now + step.acknowledge_within if step.acknowledge_within else None
        people = self._people(step, notice)
        reached = await self._deliver(notice, step, people, acknowledge_by=acknowledge_by)
        if not reached:
            # Nobody in the directory, and no chat room, can act on it: dead-letter it rather
            # than drop it unseen.
            raise PermanentError(
                f"nobody to tell about {event.event_type} of ticket {event.ticket_id}: team "
                f"{notice.team!r} and assignee {notice.assignee_id!r} match nobody for "
                f"{list(step.notify)}"
            )
        if escalation_id is not None:
            await self.escalations.open(
                Escalation(
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
            )
            self.on_work()

    def _people(self, step: Step, notice: Notice) -> list[Recipient]:
        return recipients(
            step.notify,
            team=notice.team,
            assignee_id=notice.assignee_id,
            directory=self.directory,
            config=self.config,
        )

    async def _deliver(
        self,
        notice: Notice,
        step: Step,
        people: Sequence[Recipient],
        *,
        acknowledge_by: datetime | None,
    ) -> int:
        """Enqueue the step's emails and webhook calls and publish its push; how many were told
        (people, and chat rooms)."""
        now = self.clock.now()
        suffix = f"#{step.rung}" if step.rung else ""
        told = 0
        for channel in step.channels:
            if channel == "push":
                told += len(people)
                if people:
                    await self._push(notice, step, people, acknowledge_by)
            elif channel == "email":
                for person in people:
                    told += 1
                    key = f"{notice.event_id}:{person.person_id}:email{suffix}"
                    at = send_after(
                        person,
                        urgent=notice.urgent,
                        now=now,
                        directory=self.directory,
                        calendars=self.calendars,
                        config=self.config,
                    )
                    await self._enqueue(notice, key, person.person_id, person.email, at, person)
            else:
                for target in await self.webhooks.for_notice(notice):
                    told += 1
                    key = f"{notice.event_id}:{target.name}:webhook{suffix}"
                    # The name, not the URL: a chat tool's webhook URL is itself a secret.
                    address = f"webhook:{target.name}"
                    await self._enqueue(notice, key, target.name, address, now, None)
        self.on_work()
        return told

    async def _enqueue(
        self,
        notice: Notice,
        key: str,
        recipient: str,
        address: str,
        send_at: datetime,
        person: Recipient | None,
    ) -> None:
        channel: OutboxChannel = "email" if person is not None else "webhook"
        fold_key = None
        if is_digestible(notice, channel, self.config):
            fold_key = f"{recipient}:{channel}"
            previous = await self.outbox.last_slot(fold_key)
            slot = digest_slot(previous, now=send_at, window=self.config.digest.window)
            send_at = max(send_at, slot)
        job = Job(
            key=key,
            channel=channel,
            recipient=recipient,
            address=address,
            person=person,
            notice=notice,
            ticket_id=notice.ticket_id,
            cause_event_id=notice.event_id,
            send_at=send_at,
            created_at=self.clock.now(),
            fold_key=fold_key,
        )
        await self.outbox.enqueue(job)

    async def _push(
        self,
        notice: Notice,
        step: Step,
        people: Sequence[Recipient],
        acknowledge_by: datetime | None,
    ) -> None:
        pushed = NotificationPushed(
            event_id=derived_id(notice.event_id, "push", step.rung),
            ticket_id=notice.ticket_id,
            causation_id=notice.event_id,
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
        await publish_event(self.broker, self.settings.topics.notifications, pushed)

    async def climb_due(self, limit: int = 100) -> int:
        """Tell the next rung of every ladder nobody acknowledged in time; returns how many."""
        climbed = 0
        for escalation in await self.escalations.due(self.clock.now(), limit):
            await self.climb(escalation)
            climbed += 1
        return climbed

    async def climb(self, escalation: Escalation) -> None:
        """Messages first, then the rung: a crash between them re-sends the same keys, which
        the outbox drops, and a replica that loses the race to climb changed nothing."""
        step = next_step(self.config, escalation.metric, escalation.rung)
        now = self.clock.now()
        if step is None:
            await self.finish(
                escalation.escalation_id,
                "exhausted",
                by=None,
                reason="nobody acknowledged it, up to the top of the ladder",
            )
            return
        notice = escalation.notice.model_copy(update={"rung": step.rung})
        acknowledge_by = now + step.acknowledge_within if step.acknowledge_within else None
        people = self._people(step, notice)
        await self._deliver(notice, step, people, acknowledge_by=acknowledge_by)
        if await self.escalations.climb(
            escalation, next_at=acknowledge_by, told=[p.person_id for p in people]
        ):
            log.info(
                "escalation.climbed",
                escalation_id=escalation.escalation_id,
                rung=step.rung,
                told=[p.person_id for p in people],
            )

    async def finish(
        self, escalation_id: str, status: EscalationStatus, *, by: str | None, reason: str
    ) -> Escalation | None:
        """Stop a ladder and tell every console that showed it; None if it was not open."""
        done = await self.escalations.finish(
            escalation_id, status, at=self.clock.now(), by=by, reason=reason
        )
        if done is None:
            return None
        team = self.directory.team(done.team) if done.team else None
        heads = [team.manager.person_id] if team else []
        if team is not None and team.lead is not None:
            heads.append(team.lead.person_id)
        finished = EscalationAcknowledged(
            event_id=derived_id(escalation_id, "finished"),
            ticket_id=done.ticket_id,
            causation_id=done.notice.event_id,
            escalation_id=escalation_id,
            status=status,
            acknowledged_by=by,
            recipients=sorted({*done.told, *heads}),
            reason=reason,
        )
        await publish_event(self.broker, self.settings.topics.notifications, finished)
        log.info("escalation.finished", escalation_id=escalation_id, status=status, by=by)
        return done

    async def _stop(self, event: Event, *, metric: str | None, reason: str) -> None:
        for escalation_id in await self.escalations.open_for_ticket(event.ticket_id or "", metric):
            await self.finish(escalation_id, "stopped", by=None, reason=reason)
