"""The notifier's use cases: what a batch of ticket, routing, SLA and suggestion events means
(the board, the ticket views, who is told, the messages, the ladders opened and stopped), the
insights service's signs of poor service and monthly reports, climbing and stopping ladders,
and what the console, the agents' workspace and managers ask for."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.notifier.domain.board import Change, Row, change_of, is_stale, merged
from services.notifier.domain.chat import WebhookTarget
from services.notifier.domain.deliveries import Job, in_digest_slots
from services.notifier.domain.erasure import Erasure
from services.notifier.domain.errors import Conflict, Forbidden, NotFound, Unacceptable
from services.notifier.domain.escalations import Escalation, may_acknowledge
from services.notifier.domain.insights import insight_notice
from services.notifier.domain.ladders import Rules, first_step, next_step
from services.notifier.domain.notices import notice_kind
from services.notifier.domain.telling import Told, messages, notice_for, people_of, tell
from services.notifier.domain.ticket_view import ViewChange, arrival_of, view_change
from services.notifier.domain.views import (
    Viewer,
    may_change_webhook,
    sees_webhook,
    view,
    viewer_of,
)
from services.notifier.domain.workspace import (
    Scope,
    language_of,
    render,
    search_row,
    team_and_assignee,
)
from services.notifier.egress import AddressGuard, AddressRefused, Unresolvable
from services.notifier.publishers import Publishers
from services.notifier.store import NotifierStore
from shared.access import Person
from shared.clock import Clock
from shared.consuming import Batch
from shared.events import (
    CustomerErased,
    EscalationAcknowledged,
    Event,
    SlaMet,
    TicketStatusChanged,
)
from shared.events.notifications import EscalationStatus
from shared.ids import derived_id
from shared.logging import get_logger

log = get_logger(__name__)

CLOSED = frozenset({"resolved", "closed"})


def stop_of(event: Event) -> tuple[str | None, str] | None:
    """(metric, reason) when the event stops a ticket's ladders (a None metric: all of them)."""
    if isinstance(event, SlaMet):
        return event.metric, "the target was met"
    if isinstance(event, TicketStatusChanged) and event.status in CLOSED:
        return None, f"the ticket was {event.status}"
    return None


@dataclass
class _Plan:
    """What a batch decided so far; later records of a ticket see what earlier ones did."""

    rows: dict[str, Row]
    ladders: list[Escalation]
    changes: list[Change] = field(default_factory=list)
    views: list[ViewChange] = field(default_factory=list)
    told: list[Told] = field(default_factory=list)
    stops: list[tuple[str, str]] = field(default_factory=list)
    targets: list[WebhookTarget] | None = None


class NotifierService:
    def __init__(
        self,
        *,
        store: NotifierStore,
        rules: Rules,
        publishers: Publishers,
        clock: Clock,
        addresses: AddressGuard,
        on_work: Callable[[Sequence[Job]], None] = lambda jobs: None,
        on_ladders: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.rules = rules
        self.publishers = publishers
        self.clock = clock
        #: Where webhooks may point (checked at registration; the sender checks each call).
        self.addresses = addresses
        #: Called with the jobs enqueued: the delivery loop claims them at once.
        self.on_work = on_work
        #: Called when ladders were armed: the ladders' clock looks at their deadlines again.
        #: (Not on every job: each look is two reads of the escalations.)
        self.on_ladders = on_ladders

    # -- a batch of events ---------------------------------------------------------------------

    async def on_events(self, batch: Batch[Event]) -> None:
        """Everything a batch means for the notifier, idempotent: the board's rows and the
        ticket views (version guards; entries by event id), the outbox (delivery keys), ladders
        and pushes (ids derived from the event).

        One read of the rows the batch's notices need, one of the ladders it may stop; then
        one write of the board and the views, one of the outbox, one of the ladders, the
        pushes together.
        """
        events = batch.events
        told_about = {e.ticket_id for e in events if e.ticket_id and notice_kind(e)}
        stopping = {e.ticket_id for e in events if e.ticket_id and stop_of(e)}
        plan = _Plan(
            rows=await self.store.board_rows(told_about) if told_about else {},
            ladders=await self.store.open_escalations_of(stopping) if stopping else [],
        )
        now = self.clock.now()
        for position, delivery in enumerate(batch):
            with batch.isolate(delivery):
                change = view_change(delivery.event, arrival_of(now, position))
                if change is not None:
                    plan.views.append(change)
                await self._decide(delivery.event, plan, told_about, now)
        await self._carry_out(batch, plan)

    async def on_insights(self, batch: Batch[Event]) -> None:
        """Signs of poor service (coaching notices for the team's lead) and monthly reports
        (for their manager), idempotent as the rest: outbox jobs and pushes take ids derived
        from the event. No board row and no ladder: a coaching notice waits on nobody."""
        plan = _Plan(rows={}, ladders=[])
        now = self.clock.now()
        for delivery in batch:
            with batch.isolate(delivery):
                notice = insight_notice(delivery.event, self.rules.directory)
                step = first_step(notice, self.rules.ladders)
                if step is None:
                    signal = notice.signal.kind if notice.signal else None
                    log.info("insight.switched_off", event_type=notice.event_type, kind=signal)
                    continue
                plan.told.append(tell(notice, step, [], now=now, rules=self.rules))
        await self._carry_out(batch, plan)

    async def _decide(self, event: Event, plan: _Plan, watched: set[str], now: datetime) -> None:
        change = change_of(event)
        if change is not None:
            # Kept even if telling fails below: the board shows what happened regardless.
            plan.changes.append(change)
            row = plan.rows.get(change.ticket_id)
            if change.ticket_id in watched and not is_stale(row, change):
                plan.rows[change.ticket_id] = merged(row, change)
        stop = stop_of(event)
        if stop is not None:
            metric, reason = stop
            ending = [e for e in plan.ladders if e.stops_with(event.ticket_id or "", metric)]
            plan.stops += [(e.escalation_id, reason) for e in ending]
            plan.ladders = [e for e in plan.ladders if e not in ending]
        if notice_kind(event) is None:
            return
        notice = notice_for(event, plan.rows.get(event.ticket_id or ""))
        step = first_step(notice, self.rules.ladders)
        if step is None:
            return
        if "webhook" in step.channels and plan.targets is None:
            plan.targets = await self.store.webhooks()
        told = tell(notice, step, plan.targets or [], now=now, rules=self.rules)
        plan.told.append(told)
        if told.escalation is not None:
            plan.ladders.append(told.escalation)

    async def _carry_out(self, batch: Batch[Event], plan: _Plan) -> None:
        if plan.changes or plan.views:
            await self.store.apply_board(plan.changes, plan.views)
        jobs = await self._in_slots([job for t in plan.told for job in t.messages.jobs])
        if jobs:
            await self.store.enqueue(jobs)
        opened = [t.escalation for t in plan.told if t.escalation is not None]
        if opened:
            await self.store.open_escalations(opened)
        for told in plan.told:
            if told.messages.pushed is not None:
                batch.publish(self.publishers.pushed, told.messages.pushed)
        if jobs:
            self.on_work(jobs)
        if opened:
            self.on_ladders()
        if plan.stops:
            # Consoles hear of a ladder before they hear it stopped.
            await batch.flush()
            for escalation_id, reason in plan.stops:
                await self.finish(escalation_id, "stopped", by=None, reason=reason)

    async def _in_slots(self, jobs: Sequence[Job]) -> list[Job]:
        """The jobs, those that fold into digests moved to their digest slots."""
        fold_keys = [j.fold_key for j in jobs if j.fold_key is not None]
        if not fold_keys:
            return list(jobs)
        last = await self.store.last_slots(fold_keys)
        return in_digest_slots(jobs, last, self.rules.ladders.digest.window)

    # -- ladders ---------------------------------------------------------------------------------

    async def climb_due(self, limit: int = 100) -> int:
        """Tell the next rung of every ladder nobody acknowledged in time; returns how many."""
        due = await self.store.due_escalations(self.clock.now(), limit)
        for escalation in due:
            await self.climb(escalation)
        return len(due)

    async def climb(self, escalation: Escalation) -> None:
        """Messages first, then the rung: a crash between them re-sends the same keys, which
        the outbox drops, and a replica that loses the race to climb changed nothing."""
        step = next_step(self.rules.ladders, escalation.metric, escalation.rung)
        if step is None:
            await self.finish(
                escalation.escalation_id,
                "exhausted",
                by=None,
                reason="nobody acknowledged it, up to the top of the ladder",
            )
            return
        now = self.clock.now()
        notice = escalation.notice.model_copy(update={"rung": step.rung})
        acknowledge_by = now + step.acknowledge_within if step.acknowledge_within else None
        people = people_of(step, notice, self.rules)
        targets = await self.store.webhooks() if "webhook" in step.channels else []
        sent = messages(
            notice, step, people, targets, now=now, acknowledge_by=acknowledge_by, rules=self.rules
        )
        jobs = await self._in_slots(sent.jobs)
        if jobs:
            await self.store.enqueue(jobs)
        if sent.pushed is not None:
            await self.publishers.pushed.publish(sent.pushed)
        if jobs:
            self.on_work(jobs)
        told = [p.person_id for p in people]
        if await self.store.climb(escalation, next_at=acknowledge_by, told=told):
            log.info(
                "escalation.climbed",
                escalation_id=escalation.escalation_id,
                rung=step.rung,
                told=told,
            )

    async def finish(
        self, escalation_id: str, status: EscalationStatus, *, by: str | None, reason: str
    ) -> Escalation | None:
        """Stop a ladder and tell every console that showed it; None if it was not open."""
        done = await self.store.finish(
            escalation_id, status, at=self.clock.now(), by=by, reason=reason
        )
        if done is None:
            return None
        team = self.rules.directory.team(done.team) if done.team else None
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
        await self.publishers.finished.publish(finished)
        log.info("escalation.finished", escalation_id=escalation_id, status=status, by=by)
        return done

    # -- erasure ---------------------------------------------------------------------------------

    async def erase(self, event: CustomerErased) -> None:
        """Blank what the notifier keeps of an erased customer (idempotent)."""
        await self.store.erase(Erasure.of(event))
        log.info("customer.erased", customer_id=event.customer_id, tickets=len(event.ticket_ids))

    # -- what people ask for ---------------------------------------------------------------------

    def viewer(self, person_id: str) -> Viewer:
        found = viewer_of(person_id, self.rules.directory)
        if found is None:
            raise Forbidden(f"{person_id} is not in the directory")
        return found

    def me(self, person_id: str) -> dict[str, Any]:
        """Who the person is to the console, and the language their workspace speaks."""
        language = language_of(self.rules.directory, person_id)
        return {**self.viewer(person_id).as_json(), "language": language}

    async def ticket_view(self, person: Person, ticket_id: str) -> dict[str, Any]:
        """One ticket as the workspace shows it; another team's is answered as unknown."""
        found = await self.store.ticket_view(ticket_id)
        if found is None or not person.sees_ticket(*team_and_assignee(found)):
            raise NotFound(f"no ticket {ticket_id}")
        return render(found, self.rules.directory)

    async def search_tickets(self, person: Person, text: str, limit: int) -> list[dict[str, Any]]:
        """The person's tickets (their own, their teams') a text finds, newest first."""
        text = text.strip()
        if not text:
            return []
        scope = Scope(person.person_id, tuple(sorted(person.teams)))
        return [search_row(v) for v in await self.store.search_ticket_views(scope, text, limit)]

    async def board(self, viewer: Viewer) -> dict[str, Any]:
        """The viewer's tickets and the open escalations they were told of or head."""
        rows = [view(r) for r in await self.store.board_for(viewer)]
        heads = list(viewer.teams) if viewer.role in ("lead", "manager") else []
        escalations = await self.store.open_escalations_for(viewer.person_id, heads)
        return {
            "person": viewer.as_json(),
            "tickets": [r for r in rows if viewer.sees(r)],
            "escalations": [e.view() for e in escalations],
        }

    async def acknowledge(self, escalation_id: str, viewer: Viewer) -> dict[str, Any]:
        """Stop a ladder on behalf of somebody told of it or heading its team; idempotent.
        Another team's ladder is answered as unknown: its existence is not the caller's."""
        found = await self.store.escalation(escalation_id)
        if found is None:
            raise NotFound(f"no escalation {escalation_id}")
        may_acknowledge(found, viewer)
        done = await self.finish(
            escalation_id, "acknowledged", by=viewer.person_id, reason=f"{viewer.name} is on it"
        )
        current = done or await self.store.escalation(escalation_id)
        if current is None:
            raise NotFound(f"no escalation {escalation_id}")
        return current.view()

    async def deliveries(self, *, ticket_id: str | None, limit: int) -> list[Job]:
        """The delivery log, service-wide (an operator's)."""
        return await self.store.jobs(ticket_id=ticket_id, limit=limit)

    # -- webhooks: a team's lead or manager, for their teams ------------------------------------

    async def put_webhook(self, viewer: Viewer, target: WebhookTarget) -> None:
        """Add a webhook, or replace one of the caller's teams; its URL must reach an address
        the policy allows."""
        directory = self.rules.directory
        may_change_webhook(viewer, target, directory)
        existing = await self.store.webhook(target.name)
        if existing is not None:
            if not sees_webhook(viewer, existing, directory):
                raise Conflict(f"the name {target.name!r} is taken by another team's webhook")
            may_change_webhook(viewer, existing, directory)
        try:
            await self.addresses.check_url(str(target.url))
        except (AddressRefused, Unresolvable) as exc:
            raise Unacceptable(f"webhook {target.name} refused: {exc}") from exc
        await self.store.put_webhook(target)

    async def webhooks_of(self, viewer: Viewer) -> list[WebhookTarget]:
        directory = self.rules.directory
        return [t for t in await self.store.webhooks() if sees_webhook(viewer, t, directory)]

    async def delete_webhook(self, viewer: Viewer, name: str) -> None:
        target = await self.store.webhook(name)
        if target is None or not sees_webhook(viewer, target, self.rules.directory):
            raise NotFound(f"no webhook {name}")
        may_change_webhook(viewer, target, self.rules.directory)
        await self.store.delete_webhook(name)
