"""The SLA service's use cases: a batch of ticket and routing events moves its tickets' clocks,
a deadline falls due, and what the HTTP API shows of a ticket and of compliance."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from services.sla.domain import announce, transitions
from services.sla.domain.compliance import Period, summarise
from services.sla.domain.errors import BadWindow, NoClocks
from services.sla.domain.inputs import decide, remember
from services.sla.domain.ticket import Finished, Rules, TicketSla
from services.sla.domain.views import ComplianceReport, TicketSlaView, ticket_view
from services.sla.grouping import Grouped
from services.sla.state import SlaState
from services.sla.store import Save, SlaStore, Stored
from shared.clock import Clock
from shared.consuming import Batch, Delivery
from shared.events import Event, SlaBreached, SlaWarning
from shared.logging import bound, get_logger
from shared.metrics import SLA_BREACHES, SLA_FIRING_LATENESS, SLA_WARNINGS
from shared.publishing import Publisher

log = get_logger(__name__)

#: How often a ticket is re-decided when another replica saved it first.
SAVE_ATTEMPTS = 5
#: Tickets of a batch decided between two turns of the event loop, so deadlines keep firing
#: on their second while a large batch is decided.
YIELD_EVERY = 16


class Lost(NamedTuple):
    """A save another writer beat; `stray`: the timer bucket it wrote the entry into."""

    stray: str | None


class SlaService:
    """Moves each ticket's clocks as its events come and as its moments fall due, announcing
    what changed on the SLA topic before saving it (a crash in between decides again and
    publishes the same event ids, which consumers drop)."""

    def __init__(self, state: SlaState, sla: Publisher, *, group_size: int = 100) -> None:
        self.state = state
        self.sla = sla
        # The timer's reads and saves, grouped: deadlines falling due together (a burst of
        # tickets routed together falls due together) cost a few bulk commands.
        self._reads: Grouped[str, Stored | None] = Grouped(
            self._read_many, size=group_size, name="sla-reads"
        )
        self._saves: Grouped[Save, Stored | Lost] = Grouped(
            self._save_many, size=group_size, name="sla-saves"
        )

    @property
    def rules(self) -> Rules:
        return self.state.rules

    @property
    def store(self) -> SlaStore:
        return self.state.store

    @property
    def clock(self) -> Clock:
        return self.state.clock

    async def stop(self) -> None:
        await self._reads.stop()
        await self._saves.stop()

    # -- the subscriber ---------------------------------------------------------------------

    async def take(self, batch: Batch[Any]) -> None:
        """Apply a batch of inputs: read its tickets together, apply each ticket's inputs in
        order, publish what they announce together, then save every ticket together. Tickets
        another replica saved meanwhile are read again and redone, alone."""
        inputs: dict[str, list[Delivery[Any]]] = {}
        for delivery in batch:
            inputs.setdefault(delivery.event.ticket_id, []).append(delivery)
        if not inputs:
            return
        async with self.state.holding(inputs):
            stored = await self.store.load(inputs)
            redo: dict[str, str | None] | None = None
            for _ in range(SAVE_ATTEMPTS):
                saves = await self._decide(batch, inputs, stored, redo)
                if not saves:
                    return
                announced = [event for _, event in batch.outgoing]
                await batch.flush()  # published, then saved (see the class docstring)
                outcome = await self.store.save_all(saves)
                for saved in outcome.saved.values():
                    self.state.saved(saved)
                _count([e for e in announced if e.ticket_id in outcome.saved])
                if not outcome.lost:
                    return
                log.warning("sla.save_conflict", tickets=sorted(outcome.lost))
                redo = outcome.lost
                inputs = {ticket_id: inputs[ticket_id] for ticket_id in outcome.lost}
                stored = await self.store.load(outcome.lost)
        raise RuntimeError(f"tickets {sorted(inputs)} kept changing under this replica")

    async def _decide(
        self,
        batch: Batch[Any],
        inputs: dict[str, list[Delivery[Any]]],
        stored: dict[str, Stored],
        redo: dict[str, str | None] | None,
    ) -> list[Save]:
        """Each ticket's inputs applied in order on what was read, their events buffered; the
        saves to make. A record that fails for good is set aside, and the ticket goes on
        from the state before it."""
        rules = self.rules
        failed = {id(delivery) for delivery, _ in batch.failed}
        saves: list[Save] = []
        for n, (ticket_id, deliveries) in enumerate(inputs.items()):
            if n and n % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            before = stored.get(ticket_id)
            start = (
                before.ticket
                if before
                else TicketSla(ticket_id=ticket_id, partition=deliveries[0].partition)
            )
            ticket, noted = start, False
            finished: list[Finished] = []
            applied: list[str] = []
            for delivery in deliveries:
                event_id = str(delivery.event.event_id)
                if id(delivery) in failed or event_id in ticket.applied:
                    continue  # dead-lettered in an earlier try; or applied before
                with batch.isolate(delivery):
                    now = self.clock.now()
                    decision = decide(ticket, delivery.event, rules, now, delivery.partition)
                    for event in announce.events_of(decision, rules, delivery.event, now):
                        batch.publish(self.sla, event)
                        _emitted(event)
                    ticket, noted = decision.ticket, noted or bool(decision.notes)
                    finished += decision.finished
                    applied.append(event_id)
            # A ticket redone after a lost race is saved even if unchanged: its timer entry
            # is written again, over what the losing attempt wrote.
            if ticket == start and not noted and redo is None:
                continue
            stray = redo.get(ticket_id) if redo is not None else None
            saves.append(
                Save(
                    remember(ticket, applied), before, finished, redo=redo is not None, stray=stray
                )
            )
        return saves

    # -- the timer ----------------------------------------------------------------------------

    async def fire(self, ticket_id: str) -> None:
        """A ticket's next moment is near: read it now, announce what falls due at the moment.

        The timer calls this `read_ahead` before the moment, so the database read is done by
        the time it comes and the event goes out on the second. Until then the subscriber keeps
        the copy current (`SlaState.saved`); the ticket's lock keeps a reply from meeting a
        clock while its breach is being decided.
        """
        state = self.state
        state.unarmed(ticket_id)
        # Another firing of this ticket may be waiting too: its copy is kept, not cleared.
        state.ahead.setdefault(ticket_id, None)
        try:
            stored = await self._reads(ticket_id)
            if stored is None:
                return
            if state.ahead.get(ticket_id) is None:
                state.ahead[ticket_id] = stored
            ticket = stored.ticket
            if ticket.next_at is not None:
                wait = (ticket.next_at - self.clock.now()).total_seconds()
                if wait > state.read_ahead.total_seconds() + 1:
                    # The timer's entry was older than the ticket (a moment moved later): wait
                    # in the heap for the real one rather than in a task.
                    state.arm(ticket)
                    return
                await asyncio.sleep(max(0.0, wait))
            async with state.lock_for(ticket_id):
                await state.settled(ticket_id)
                # No copy left means another firing of the ticket ended first: read it afresh.
                current = state.ahead.get(ticket_id) or await self._reads(ticket_id)
                await self._fire(ticket_id, current)
        finally:
            state.ahead.pop(ticket_id, None)

    async def _fire(self, ticket_id: str, stored: Stored | None) -> None:
        redo, stray = False, None
        for _ in range(SAVE_ATTEMPTS):
            if stored is None or not self.state.owns(stored.ticket.partition):
                return
            ticket = stored.ticket
            now = self.clock.now()
            decision = transitions.advance(ticket, self.rules, now)
            if decision.ticket == ticket and not decision.notes and not redo:
                self.state.arm(ticket)
                return
            events = announce.events_of(decision, self.rules, None, now)
            with bound(ticket_id=ticket_id, correlation_id=ticket.correlation_id):
                await self.sla.publish_all(events)
                for event in events:
                    _emitted(event)
            due = ticket.next_at
            late = (self.clock.now() - due).total_seconds() if events and due else None
            save = Save(decision.ticket, stored, decision.finished, redo=redo, stray=stray)
            outcome = await self._persist(save)
            if isinstance(outcome, Stored):
                if late is not None:
                    SLA_FIRING_LATENESS.observe(max(0.0, late))
                _count(events)
                return
            redo, stray = True, outcome.stray
            stored = await self._reads(ticket_id)
        raise RuntimeError(f"ticket {ticket_id} kept changing under this replica")

    async def _persist(self, save: Save) -> Stored | Lost:
        """Save after publishing. The events are out: the save must finish even if this firing
        is cut off by its timeout, or the retry would decide on the old state and publish again;
        the ticket is read again only once it is done (`SlaState.settled`)."""
        ticket_id = save.ticket.ticket_id
        saving = asyncio.ensure_future(self._saves(save))
        self.state.persisting[ticket_id] = saving
        saving.add_done_callback(lambda done: self._forget(ticket_id, done))
        return await asyncio.shield(saving)

    def _forget(self, ticket_id: str, done: asyncio.Future[Any]) -> None:
        if self.state.persisting.get(ticket_id) is done:
            del self.state.persisting[ticket_id]

    async def _read_many(self, ticket_ids: Sequence[str]) -> list[Stored | None]:
        found = await self.store.load(ticket_ids)
        return [found.get(ticket_id) for ticket_id in ticket_ids]

    async def _save_many(self, saves: Sequence[Save]) -> list[Stored | Lost]:
        outcome = await self.store.save_all(saves)
        answers: list[Stored | Lost] = []
        for save in saves:
            ticket_id = save.ticket.ticket_id
            saved = outcome.saved.get(ticket_id)
            if saved is None:
                log.warning("sla.save_conflict", ticket_id=ticket_id)
                answers.append(Lost(outcome.lost.get(ticket_id)))
                continue
            self.state.saved(saved)
            answers.append(saved)
        return answers

    # -- what the HTTP API shows ----------------------------------------------------------------

    async def ticket(self, ticket_id: str) -> TicketSlaView:
        found = (await self.store.load([ticket_id])).get(ticket_id)
        if found is None or not found.ticket.started:
            raise NoClocks(ticket_id)
        return ticket_view(found.ticket, self.rules, self.clock.now())

    async def compliance(
        self,
        since: datetime | None,
        until: datetime | None,
        period: Period,
        *,
        metric: str | None = None,
        team: str | None = None,
        priority: str | None = None,
        teams: Collection[str] | None = None,
    ) -> ComplianceReport:
        until = until or self.clock.now()
        since = since or until - timedelta(days=30)
        if since >= until:
            raise BadWindow(f"since ({since}) must be before until ({until})")
        results = await self.store.results(
            since, until, metric=metric, team=team, priority=priority, teams=teams
        )
        return ComplianceReport(
            since=since, until=until, period=period, groups=summarise(results, period)
        )


def _count(announced: Sequence[Event]) -> None:
    """Count the warnings and breaches announced and saved, by target."""
    for event in announced:
        if isinstance(event, SlaWarning):
            SLA_WARNINGS.labels(event.metric).inc()
        elif isinstance(event, SlaBreached):
            SLA_BREACHES.labels(event.metric).inc()


def _emitted(event: Event) -> None:
    log.info(
        "sla.emitted",
        emitted=event.event_type,
        metric=getattr(event, "metric", None),
        colour=getattr(event, "colour", None),
    )
