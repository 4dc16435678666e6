"""The SLA of one ticket: its clocks, how each input moves them, and what to announce.

Every function takes the ticket's SLA as stored, the input, the rules and `now`, and returns
a `Decision`: the new state, the events to publish and the targets that finished (for the
compliance report). No I/O happens here, so the rules are tested with a fake clock.

A ticket's SLA exists from its first event, routed or not: a reply, a pause or a resolution
seen before routing (they travel on two topics) is remembered and applied as the clocks
start. `next_at` is the next moment a timer must look at the ticket: a warning level, a
prompt, or a deadline.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.sla.domain import clocks
from services.sla.domain.clocks import Calendar, Clock, ms
from services.sla.domain.policies import SlaPolicies, Terms, calendars_named
from shared.events import Event
from shared.events.sla import Colour, Metric

TicketState = Literal["open", "paused", "done"]


class CalendarBook(Protocol):
    """The calendars of `config/calendars.yaml`."""

    def get(self, name: str) -> Calendar: ...
    def for_team(self, team: str | None) -> Calendar: ...


class TicketSla(BaseModel):
    """Everything the SLA service knows of one ticket."""

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    partition: int | None = None
    correlation_id: str | None = None
    opened_at: AwareDatetime | None = None
    team: str | None = None
    assignee_id: str | None = None
    priority: str | None = None
    category: str | None = None
    plan: str = "standard"
    started_by: str | None = None
    state: TicketState = "open"
    paused_reason: str | None = None
    paused_at: AwareDatetime | None = None
    awaiting: Literal["agent", "customer"] = "agent"
    replied_at: AwareDatetime | None = None
    resolved_at: AwareDatetime | None = None
    policy: str | None = None
    calendar: str | None = None
    version: str | None = None
    clocks: tuple[Clock, ...] = ()
    colour: Colour = "green"
    next_at: AwareDatetime | None = None
    applied: tuple[str, ...] = Field(
        default=(), description="Ids of the latest inputs applied, so a redelivery is skipped."
    )

    @property
    def started(self) -> bool:
        return self.started_by is not None

    def clock(self, metric: Metric) -> Clock | None:
        """The latest cycle of a target."""
        return next((c for c in reversed(self.clocks) if c.metric == metric), None)

    def latest(self) -> list[Clock]:
        seen: dict[Metric, Clock] = {c.metric: c for c in self.clocks}
        return list(seen.values())

    def with_clock(self, clock: Clock) -> TicketSla:
        """Replace the clock of the same metric and cycle, or add it; one cycle kept per metric."""
        # In place, so the clocks (and what is announced of them) keep a stable order.
        if any(c.metric == clock.metric for c in self.clocks):
            replaced = tuple(clock if c.metric == clock.metric else c for c in self.clocks)
            return self.model_copy(update={"clocks": replaced})
        return self.model_copy(update={"clocks": (*self.clocks, clock)})


@dataclass(frozen=True)
class Rules:
    """Policies, calendars and the version of both, for the pure functions."""

    policies: SlaPolicies
    calendars: CalendarBook
    version: str

    def __post_init__(self) -> None:
        # A policy naming a calendar that does not exist would fail every ticket it matches.
        # (`config.load_config` checks the same first, to name the field in sla.yaml.)
        for _, policy, calendar in calendars_named(self.policies):
            try:
                self.calendars.get(calendar)
            except KeyError:
                raise ValueError(
                    f"SLA policy {policy!r} names calendar {calendar!r}, which is not defined"
                ) from None

    def terms(self, ticket: TicketSla) -> Terms:
        return self.policies.terms(
            priority=ticket.priority, plan=ticket.plan, category=ticket.category
        )

    def calendar_name(self, ticket: TicketSla, terms: Terms) -> str:
        return terms.calendar or self.calendars.for_team(ticket.team).name

    def calendar_of(self, ticket: TicketSla) -> Calendar:
        """The calendar the ticket's clocks run on now."""
        if ticket.calendar is not None:
            try:
                return self.calendars.get(ticket.calendar)
            except KeyError:
                pass  # removed from the configuration: the current choice measures from here
        return self.calendars.get(self.calendar_name(ticket, self.terms(ticket)))


@dataclass(frozen=True)
class Finished:
    """A target whose outcome is known, for the compliance report."""

    ticket: TicketSla
    clock: Clock


@dataclass(frozen=True)
class Note:
    """Something to announce, before the ticket's final colour is known."""

    kind: Literal["started", "paused", "resumed", "met", "breached", "warning", "recomputed"]
    clock: Clock
    effect_id: str
    occurred_at: datetime
    extra: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    ticket: TicketSla
    notes: list[Note] = field(default_factory=list)
    finished: list[Finished] = field(default_factory=list)


def happened_at(event: Event, now: datetime) -> datetime:
    """When an input happened, never later than now (a sender's clock may run ahead)."""
    return ms(min(event.occurred_at, now))


def colour_of(ticket: TicketSla, policies: SlaPolicies) -> Colour:
    """Red once a target is missed; otherwise set by the highest warning level reached."""
    latest = ticket.latest()
    if any(c.breached_at is not None for c in latest):
        return "red"
    reached = max((max(c.warned, default=0) for c in latest if c.open), default=0)
    if reached >= policies.colours.red:
        return "red"
    return "amber" if reached >= policies.colours.amber else "green"


def schedule(ticket: TicketSla, rules: Rules) -> TicketSla:
    """Work out the ticket's colour and the next moment its timer must fire."""
    if ticket.state == "done" or not ticket.started:
        next_at = None
    else:
        calendar = rules.calendar_of(ticket)
        terms = rules.terms(ticket)
        firsts = [
            steps[0].at
            for c in ticket.latest()
            if (
                steps := clocks.pending_steps(
                    c, calendar, rules.policies.warning_levels, terms.prompts
                )
            )
        ]
        next_at = min(firsts, default=None)
    return ticket.model_copy(
        update={"next_at": next_at, "colour": colour_of(ticket, rules.policies)}
    )


def settle(
    ticket: TicketSla, clock: Clock, calendar: Calendar, at: datetime, cause: str
) -> tuple[TicketSla, list[Note], list[Finished]]:
    """Satisfy one open clock at `at`: met if in time, else breached as of its deadline."""
    if not clock.open:
        return ticket, [], []
    done = clocks.satisfy(clock, calendar, at, cause)
    notes: list[Note] = []
    if done.breached_at is None and done.used > done.target:
        # Satisfied late before any timer saw it (it came before routing, say). A running
        # clock knows its deadline; a paused one's is reckoned from its start.
        due = clock.due_at or ms(calendar.add(done.started_at, done.target))
        done = done.model_copy(update={"breached_at": due})
        notes.append(Note("breached", done, f"{cause}:late", at, {"due_at": due}))
    elif done.breached_at is None:
        notes.append(Note("met", done, cause, at))
    ticket = ticket.with_clock(done)
    return ticket, notes, [Finished(ticket, done)]


def open_clocks(ticket: TicketSla) -> Iterable[Clock]:
    return (c for c in ticket.latest() if c.open)


def settle_open(
    ticket: TicketSla, calendar: Calendar, at: datetime, cause: str, metrics: Container[str]
) -> tuple[TicketSla, list[Note], list[Finished]]:
    """Satisfy every open clock of these metrics at `at`, or as it started if that is later."""
    notes: list[Note] = []
    finished: list[Finished] = []
    for clock in [c for c in open_clocks(ticket) if c.metric in metrics]:
        effect = f"{cause}:{clock.metric}:{clock.cycle}"
        ticket, more, done = settle(ticket, clock, calendar, max(at, clock.started_at), effect)
        notes += more
        finished += done
    return ticket, notes, finished


def recompute(
    ticket: TicketSla, rules: Rules, now: datetime, reason: str, effect: str
) -> tuple[TicketSla, list[Note]]:
    """New targets or calendar for the open clocks, keeping the business time used so far."""
    terms = rules.terms(ticket)
    name = rules.calendar_name(ticket, terms)
    old_calendar = rules.calendar_of(ticket)
    new_calendar = rules.calendars.get(name)
    notes: list[Note] = []
    for clock in list(open_clocks(ticket)):
        if clock.breached_at is not None:
            # A missed target keeps its deadline; only the calendar it runs on may change.
            if new_calendar.name != old_calendar.name:
                moved = clocks.retarget(clock, old_calendar, clock.target, now, to=new_calendar)
                ticket = ticket.with_clock(moved)
            continue
        target = terms.targets.get(clock.metric, clock.target)
        moved = clocks.retarget(clock, old_calendar, target, now, to=new_calendar)
        if (moved.target, moved.due_at) != (clock.target, clock.due_at) or name != ticket.calendar:
            ticket = ticket.with_clock(moved)
            extra = {"reason": reason, "policy": terms.policy, "calendar": name}
            effect_id = f"{effect}:{clock.metric}:{clock.cycle}"
            notes.append(Note("recomputed", moved, effect_id, now, extra))
    ticket = ticket.model_copy(
        update={"policy": terms.policy, "calendar": name, "version": rules.version}
    )
    return ticket, notes
