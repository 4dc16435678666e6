"""Deciding where tickets go, one or a batch: each ticket in order against a roster of agents
held in memory, the new slots claimed together (a claim another replica beat is decided again),
then the decisions published, saved over the revisions read and their slots settled.

Order of effects for every decision: claim the agents' slots, publish the events, save the
tickets, settle the slots. A crash in between decides again after redelivery: the claimed slot
makes the same agent win (`choose` keeps the holder), the events carry the same derived ids,
and the slots' keys make nothing count twice (`store.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from services.router import decisions
from services.router.decisions import Cause
from services.router.domain.assignment import AgentState, Choice, choose
from services.router.domain.rules import RoutingRules
from services.router.domain.slots import NEW, SlotChange, claim, fate, kept
from services.router.domain.tickets import RoutedTicket
from services.router.roster import Roster, RosterReader
from services.router.store import RoutingStore, Stored
from shared.business_calendar import Calendars
from shared.clock import Clock
from shared.directory import Directory
from shared.events import Event, TicketAssigned
from shared.logging import get_logger
from shared.metrics import ROUTING_DECISIONS, TIME_TO_ASSIGNMENT

log = get_logger(__name__)

#: Rounds of claims a decision gets when other replicas keep taking the slots it chose.
CLAIM_ROUNDS = 3


class TicketChanged(RuntimeError):
    """Another replica saved the ticket meanwhile; the input is retried on the new state."""

    def __init__(self, ticket_id: str) -> None:
        super().__init__(f"ticket {ticket_id} changed while it was being placed; retrying")


class Outbox(Protocol):
    """Where decisions are published: sent now, and waited for, before anything is saved."""

    async def send(self, events: Sequence[Event]) -> None: ...


@dataclass(frozen=True)
class Seat:
    """A ticket to give an agent, as it stands, and the revision its decision starts from."""

    ticket: RoutedTicket
    base: int
    cause: Cause
    previous: tuple[str, ...] = ()
    preferred: str | None = None


@dataclass
class Plan:
    """One ticket's decision: the record to save over `base` (NEW: to insert), the slot changes
    the save makes final, and the events that announce it."""

    ticket: RoutedTicket
    base: int
    changes: list[SlotChange] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    before: RoutedTicket | None = None
    #: What the plan answers (a batch's delivery), for the caller.
    origin: Any = None
    #: When the ticket was opened, where the caller knows it (its `ticket.opened`).
    opened_at: datetime | None = None


class Seating:
    """Decides where tickets go against a roster and commits the decisions (one or a batch)."""

    def __init__(
        self,
        *,
        rules: RoutingRules,
        directory: Directory,
        calendars: Calendars,
        store: RoutingStore,
        clock: Clock,
    ) -> None:
        self.rules = rules
        self.directory = directory
        self.calendars = calendars
        self.store = store
        self.clock = clock
        self.rosters = RosterReader(store, directory, rules, calendars, clock)
        #: Told of the earliest acknowledgement deadline a commit set, so the watcher wakes
        #: for it.
        self.on_deadline: Callable[[datetime], None] = lambda due: None
        self._locks: dict[str, asyncio.Lock] = {}

    def team_lock(self, team: str) -> asyncio.Lock:
        return self._locks.setdefault(team, asyncio.Lock())

    def sequence(self) -> int:
        """A clock in microseconds: batches number their tickets on from it."""
        return int(self.clock.now().timestamp() * 1_000_000)

    # -- deciding ---------------------------------------------------------------------------

    async def seat_all(self, roster: Roster, seats: Sequence[Seat]) -> list[Plan]:
        """Give each ticket, in order, an agent or its queue; later tickets see the load earlier
        ones took. The new slots are claimed together; a claim that found the agent full
        (another replica took the slot) is decided again on the agent read again."""
        plans = await self._seat_rounds(roster, seats, queue=True)
        return [p for p in plans if p is not None]

    async def assign_some(self, roster: Roster, seats: Sequence[Seat]) -> list[Plan]:
        """As `seat_all`, for queued tickets: those nobody can take now are left as they are."""
        return [p for p in await self._seat_rounds(roster, seats, queue=False) if p is not None]

    async def _seat_rounds(
        self, roster: Roster, seats: Sequence[Seat], *, queue: bool
    ) -> list[Plan | None]:
        plans: dict[int, Plan | None] = {}
        todo = list(range(len(seats)))
        sequence = self.sequence()
        for _ in range(CLAIM_ROUNDS):
            decided: dict[int, Plan] = {}
            for i in todo:
                plan = self._seat(roster, seats[i], sequence, queue=queue)
                sequence += 1
                if plan is None:
                    plans[i] = None
                else:
                    decided[i] = plan
            fresh = [
                c
                for p in decided.values()
                for c in p.changes
                if c not in roster.pending.get(c.ticket_id, ())
            ]
            applied = await self.store.change_slots(fresh) if fresh else set()
            refused = {c.record for c in fresh} - applied
            lost = [i for i, p in decided.items() if any(c.record in refused for c in p.changes)]
            plans.update({i: p for i, p in decided.items() if i not in lost})
            if not lost:
                break
            taken = {c.agent_id for i in lost for c in decided[i].changes}
            await self.rosters.refresh(roster, taken)
            todo = lost
        else:
            why = Choice(None, "every free agent was taken by other tickets meanwhile")
            for i in todo:
                seat = seats[i]
                after, event = decisions.queued(
                    seat.ticket, why, seat.cause, self.rules, self.clock.now(), sequence + i
                )
                plans[i] = Plan(after, seat.base, [], [event]) if queue else None
        return [plans[i] for i in range(len(seats))]

    def _seat(self, roster: Roster, seat: Seat, sequence: int, *, queue: bool) -> Plan | None:
        ticket, now = seat.ticket, self.clock.now()
        states = roster.team(ticket.team)
        choice = self._preferred(ticket, states, seat.preferred) or choose(
            ticket.needs(seat.previous), states, self.rules.assignment
        )
        if choice.agent_id is None:
            if not queue:
                return None
            after, event = decisions.queued(ticket, choice, seat.cause, self.rules, now, sequence)
            return Plan(after, seat.base, [], [event])
        live = roster.live_claim(ticket.ticket_id)
        if live is not None and live.agent_id == choice.agent_id:
            change = live  # claimed before a crash: taken over as it is
        else:
            agent = roster.states[choice.agent_id].agent
            capacity = agent.capacity_for(ticket.channel)
            change = claim(
                agent.person_id,
                ticket.channel,
                ticket.ticket_id,
                seat.base,
                seat.cause.digest,
                capacity=capacity,
                sequence=sequence,
            )
            roster.take(change)
        after, event = decisions.assigned(ticket, choice, seat.cause, self.rules, now)
        return Plan(after, seat.base, [change], [event])

    @staticmethod
    def _preferred(
        ticket: RoutedTicket, states: Sequence[AgentState], preferred: str | None
    ) -> Choice | None:
        if preferred is None:
            return None
        state = next((s for s in states if s.agent_id == preferred), None)
        if state is None or not state.available:
            return None
        if state.load(ticket.channel) >= state.capacity(ticket.channel):
            return None
        return Choice(state.agent_id, f"asked for by name: {state.agent.name}")

    # -- committing -------------------------------------------------------------------------

    async def commit(
        self, plans: Sequence[Plan], outbox: Outbox | None, roster: Roster | None = None
    ) -> set[str]:
        """Publish (unless the caller did: `outbox` None), save every plan over its revision,
        then settle the slots of those saved and undo those of any that lost a race (another
        replica saved the ticket first). Returns the ids saved."""
        if outbox is not None:
            await outbox.send([e for p in plans for e in p.events])
        for plan in plans:
            records = (*plan.ticket.slot_changes, *(c.record for c in plan.changes))
            plan.ticket = plan.ticket.model_copy(update={"slot_changes": kept(records, plan.base)})
        new = [p for p in plans if p.base == NEW]
        old = [p for p in plans if p.base != NEW]
        existed = await self.store.insert_tickets([p.ticket for p in new]) if new else set()
        saved = await self.store.save_tickets([(p.ticket, p.base) for p in old]) if old else set()
        won = {p.ticket.ticket_id for p in new if p.ticket.ticket_id not in existed} | saved
        settle = [c for p in plans if p.ticket.ticket_id in won for c in p.changes]
        undo: list[SlotChange] = []
        if roster is not None:
            # Other changes in flight from the revisions just saved can never be final now.
            for plan in plans:
                if plan.ticket.ticket_id in won:
                    pending = roster.pending.pop(plan.ticket.ticket_id, [])
                    undo += [c for c in pending if c not in plan.changes]
            settle += roster.settled
            undo += roster.undone
            roster.settled, roster.undone = [], []
        lost = [p for p in plans if p.ticket.ticket_id not in won]
        if lost:
            fresh = await self.store.tickets([p.ticket.ticket_id for p in lost])
            for plan in lost:
                log.warning("ticket.changed_meanwhile", ticket_id=plan.ticket.ticket_id)
                settle_, undo_ = judge(plan.changes, fresh.get(plan.ticket.ticket_id))
                settle += settle_
                undo += undo_
        if settle or undo:
            await self.store.settle_slots(settle, undo)
        deadlines = [
            p.ticket.ack_due_at
            for p in plans
            if p.ticket.ticket_id in won
            and p.ticket.ack_due_at is not None
            and (p.before is None or p.ticket.ack_due_at != p.before.ack_due_at)
        ]
        if deadlines:
            self.on_deadline(min(deadlines))
        _count([p for p in plans if p.ticket.ticket_id in won], self.clock.now())
        return won

    async def tidy(self, roster: Roster) -> None:
        """Write what the roster found final or dead when nothing else was saved."""
        if roster.settled or roster.undone:
            await self.store.settle_slots(roster.settled, roster.undone)
            roster.settled, roster.undone = [], []


#: The routing metric's outcome of each decision event a plan saves.
OUTCOMES = {
    "ticket.assigned": "assigned",
    "ticket.queued": "queued",
    "ticket.transferred": "transferred",
    "ticket.transfers_exceeded": "transfers_exceeded",
}


def _count(saved: Sequence[Plan], now: datetime) -> None:
    """Count the decisions saved, and time each ticket's first agent from its opening (as the
    router first routed it, for a ticket placed later than its opening)."""
    for plan in saved:
        for event in plan.events:
            if event.event_type in OUTCOMES:
                ROUTING_DECISIONS.labels(OUTCOMES[event.event_type]).inc()
            if isinstance(event, TicketAssigned) and _first_agent(plan.ticket):
                opened = plan.opened_at or _routed_at(plan.ticket)
                if opened is not None:
                    TIME_TO_ASSIGNMENT.observe(max(0.0, (now - opened).total_seconds()))


def _first_agent(ticket: RoutedTicket) -> bool:
    return sum(line.startswith("assigned to ") for line in ticket.history) == 1


def _routed_at(ticket: RoutedTicket) -> datetime | None:
    at = (ticket.routed_event or {}).get("occurred_at")
    return datetime.fromisoformat(at) if isinstance(at, str) else None


def judge(
    changes: Sequence[SlotChange], stored: Stored | None
) -> tuple[list[SlotChange], list[SlotChange]]:
    """Which of a lost save's changes another save made final (settle) and which not (undo)."""
    settle: list[SlotChange] = []
    undo: list[SlotChange] = []
    revision = stored[1] if stored is not None else None
    saved = stored[0].slot_changes if stored is not None else ()
    for change in changes:
        verdict = fate(change, revision, saved)
        if verdict == "settle":
            settle.append(change)
        elif verdict == "undo":
            undo.append(change)
    return settle, undo
