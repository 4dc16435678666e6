"""How each input moves a ticket's SLA: routing, replies, customer messages, status changes,
changes of priority or team, and the timer reaching a warning, a prompt or a deadline."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from services.sla.domain import clocks
from services.sla.domain.clocks import Clock, ms
from services.sla.domain.policies import METRICS
from services.sla.domain.ticket import (
    Decision,
    Finished,
    Note,
    Rules,
    TicketSla,
    happened_at,
    open_clocks,
    recompute,
    schedule,
    settle_open,
)
from shared.events import (
    TicketAgentReplied,
    TicketAssigned,
    TicketContactAppended,
    TicketOpened,
    TicketPriorityChanged,
    TicketRouted,
    TicketStatusChanged,
    TicketTransferred,
)
from shared.events.sla import Metric

DONE = frozenset({"resolved", "closed"})
#: What routing decides that the SLA depends on.
FIELDS = ("priority", "category", "plan", "team")


def opened(ticket: TicketSla, event: TicketOpened, rules: Rules, now: datetime) -> Decision:
    update = {"opened_at": ticket.opened_at or happened_at(event, now), "plan": event.customer_plan}
    if ticket.correlation_id is None:
        update["correlation_id"] = event.correlation_id or str(event.event_id)
    if ticket.started:
        update.pop("plan")  # the plan that routing saw is the one the clocks run on
    return Decision(schedule(ticket.model_copy(update=update), rules))


def routed(
    ticket: TicketSla, event: TicketRouted, rules: Rules, now: datetime, partition: int | None
) -> Decision:
    """Start the clocks, or recompute them when a new routing changed what they depend on."""
    before = (ticket.priority, ticket.category, ticket.plan, ticket.team)
    ticket = ticket.model_copy(
        update={
            "priority": event.priority,
            "category": event.category,
            "plan": event.customer_plan,
            "team": event.team,
            "partition": ticket.partition if ticket.partition is not None else partition,
            "correlation_id": ticket.correlation_id or event.correlation_id or str(event.event_id),
        }
    )
    if ticket.started:
        after = (ticket.priority, ticket.category, ticket.plan, ticket.team)
        if before == after:
            return Decision(schedule(ticket, rules))
        reason = "routed again: " + ", ".join(
            f"{name} {old} -> {new}"
            for name, old, new in zip(FIELDS, before, after, strict=True)
            if old != new
        )
        ticket, notes = recompute(ticket, rules, now, reason, f"{event.event_id}:recomputed")
        return Decision(schedule(ticket, rules), notes)
    return _start(ticket, event, rules, now)


def _start(ticket: TicketSla, event: TicketRouted, rules: Rules, now: datetime) -> Decision:
    terms = rules.terms(ticket)
    name = rules.calendar_name(ticket, terms)
    calendar = rules.calendars.get(name)
    routed_at = happened_at(event, now)
    at = min(ticket.opened_at or routed_at, routed_at)
    ticket = ticket.model_copy(
        update={
            "started_by": str(event.event_id),
            "policy": terms.policy,
            "calendar": name,
            "version": rules.version,
        }
    )
    metrics: tuple[Metric, ...] = ("first_response", "resolution")
    for metric in metrics:
        ticket = ticket.with_clock(clocks.start(metric, terms.targets[metric], at, calendar))
    # What happened before routing, in order: a reply or resolution settles a clock, a
    # pause stops the clocks still running from the moment it came.
    moments: list[tuple[datetime, Metric | None]] = []
    if ticket.replied_at is not None or ticket.state == "done":
        moments.append((ticket.replied_at or ticket.resolved_at or at, "first_response"))
    if ticket.state == "done":
        moments.append((ticket.resolved_at or at, "resolution"))
    if ticket.state == "paused":
        moments.append((ticket.paused_at or at, None))
    settled: list[Note] = []
    finished: list[Finished] = []
    for when, settles in sorted(moments, key=lambda moment: moment[0]):
        if settles is not None:
            cause = f"{event.event_id}:settled"
            ticket, more, done = settle_open(ticket, calendar, when, cause, {settles})
            settled, finished = settled + more, finished + done
            continue
        for clock in list(open_clocks(ticket)):
            ticket = ticket.with_clock(clocks.pause(clock, calendar, max(when, at)))
    started = [
        Note("started", c, f"{event.event_id}:started:{c.metric}", at) for c in ticket.clocks
    ]
    return Decision(schedule(ticket, rules), started + settled, finished)


def assigned(ticket: TicketSla, event: TicketAssigned, rules: Rules, now: datetime) -> Decision:
    moved = ticket.model_copy(update={"assignee_id": event.agent_id})
    return _changed(moved, "team", event.team, str(event.event_id), rules, now)


def transferred(
    ticket: TicketSla, event: TicketTransferred, rules: Rules, now: datetime
) -> Decision:
    moved = ticket.model_copy(update={"assignee_id": event.to_agent_id})
    return _changed(moved, "team", event.to_team, str(event.event_id), rules, now)


def priority_changed(
    ticket: TicketSla, event: TicketPriorityChanged, rules: Rules, now: datetime
) -> Decision:
    return _changed(ticket, "priority", event.priority, str(event.event_id), rules, now)


def _changed(
    ticket: TicketSla,
    field: Literal["team", "priority"],
    value: str,
    cause: str,
    rules: Rules,
    now: datetime,
) -> Decision:
    """A new team or priority: open clocks take the targets and calendar that now apply."""
    old = getattr(ticket, field)
    ticket = ticket.model_copy(update={field: value})
    if value == old or not ticket.started or ticket.state == "done":
        return Decision(schedule(ticket, rules))
    reason = f"{field} {old} -> {value}"
    ticket, notes = recompute(ticket, rules, now, reason, f"{cause}:recomputed")
    return Decision(schedule(ticket, rules), notes)


def agent_replied(
    ticket: TicketSla, event: TicketAgentReplied, rules: Rules, now: datetime
) -> Decision:
    """A reply meets first response and the running next reply; the customer's turn now."""
    at = happened_at(event, now)
    ticket = ticket.model_copy(
        update={"replied_at": ticket.replied_at or at, "awaiting": "customer"}
    )
    if not ticket.started:
        return Decision(schedule(ticket, rules))
    metrics = {"first_response", "next_reply"}
    calendar = rules.calendar_of(ticket)
    ticket, notes, finished = settle_open(ticket, calendar, at, str(event.event_id), metrics)
    return Decision(schedule(ticket, rules), notes, finished)


def customer_wrote(
    ticket: TicketSla, event: TicketContactAppended, rules: Rules, now: datetime
) -> Decision:
    """A customer message ends a wait on the customer and, after a reply, arms next reply."""
    at = happened_at(event, now)
    notes: list[Note] = []
    if ticket.state == "paused" and ticket.paused_reason == "pending":
        ticket, notes = _resume(ticket, rules, at, str(event.event_id))
    if ticket.awaiting == "customer" and ticket.started and ticket.state != "done":
        target = rules.terms(ticket).targets.get("next_reply")
        previous = ticket.clock("next_reply")
        if target is not None and (previous is None or not previous.open):
            cycle = 0 if previous is None else previous.cycle + 1
            paused = ticket.state == "paused"
            clock = clocks.start(
                "next_reply", target, at, rules.calendar_of(ticket), cycle=cycle, paused=paused
            )
            ticket = ticket.with_clock(clock)
            notes.append(Note("started", clock, f"{event.event_id}:started:next_reply", at))
    ticket = ticket.model_copy(update={"awaiting": "agent"})
    return Decision(schedule(ticket, rules), notes)


def status_changed(
    ticket: TicketSla, event: TicketStatusChanged, rules: Rules, now: datetime
) -> Decision:
    at = happened_at(event, now)
    cause = str(event.event_id)
    notes: list[Note] = []
    finished: list[Finished] = []
    if event.status in rules.policies.pause_on and ticket.state != "done":
        if ticket.state == "open" and ticket.started:
            calendar = rules.calendar_of(ticket)
            for clock in list(open_clocks(ticket)):
                paused = clocks.pause(clock, calendar, at)
                ticket = ticket.with_clock(paused)
                if clock.running_since is not None:
                    extra = {"reason": event.status}
                    notes.append(
                        Note("paused", paused, f"{cause}:paused:{clock.metric}", at, extra)
                    )
        paused_at = ticket.paused_at if ticket.state == "paused" else at
        ticket = ticket.model_copy(
            update={"state": "paused", "paused_reason": event.status, "paused_at": paused_at}
        )
    elif event.status in DONE and ticket.state != "done":
        if ticket.started:
            calendar = rules.calendar_of(ticket)
            ticket, notes, finished = settle_open(ticket, calendar, at, cause, METRICS)
        ticket = ticket.model_copy(update={"state": "done", "resolved_at": at})
    elif event.status in ("open", "reopened"):
        if ticket.state == "paused":
            ticket, notes = _resume(ticket, rules, at, cause)
        elif ticket.state == "done":
            ticket, notes = _reopen(ticket, rules, at, cause)
    return Decision(schedule(ticket, rules), notes, finished)


def _resume(
    ticket: TicketSla, rules: Rules, at: datetime, cause: str
) -> tuple[TicketSla, list[Note]]:
    notes: list[Note] = []
    if ticket.started:
        calendar = rules.calendar_of(ticket)
        for clock in list(open_clocks(ticket)):
            running = clocks.resume(clock, calendar, at)
            ticket = ticket.with_clock(running)
            if clock.running_since is None and clock.breached_at is None:
                notes.append(Note("resumed", running, f"{cause}:resumed:{clock.metric}", at))
    resumed = {"state": "open", "paused_reason": None, "paused_at": None}
    return ticket.model_copy(update=resumed), notes


def _reopen(
    ticket: TicketSla, rules: Rules, at: datetime, cause: str
) -> tuple[TicketSla, list[Note]]:
    """A new resolution cycle: the whole target again, or what was left, as the policy says."""
    reopened = {"state": "open", "paused_reason": None, "paused_at": None, "resolved_at": None}
    ticket = ticket.model_copy(update={**reopened, "awaiting": "agent"})
    previous = ticket.clock("resolution")
    if not ticket.started or previous is None:
        return ticket, []
    target = rules.terms(ticket).targets["resolution"]
    used = min(previous.used, target) if rules.policies.on_reopen == "resume" else None
    calendar, cycle = rules.calendar_of(ticket), previous.cycle + 1
    clock = clocks.start("resolution", target, at, calendar, cycle=cycle, used=used or timedelta(0))
    ticket = ticket.with_clock(clock)
    return ticket, [Note("started", clock, f"{cause}:started:resolution", at)]


def advance(ticket: TicketSla, rules: Rules, now: datetime) -> Decision:
    """The timer fired: recompute if the policies changed, then announce what fell due."""
    notes: list[Note] = []
    finished: list[Finished] = []
    if ticket.state == "done" or not ticket.started:
        return Decision(schedule(ticket, rules))
    if ticket.version != rules.version:
        ticket, notes = recompute(
            ticket,
            rules,
            now,
            "SLA policies or calendars changed",
            f"{ticket.ticket_id}:{rules.version}:recomputed",
        )
    calendar = rules.calendar_of(ticket)
    terms = rules.terms(ticket)
    for clock in list(open_clocks(ticket)):
        steps = clocks.pending_steps(clock, calendar, rules.policies.warning_levels, terms.prompts)
        due = [s for s in steps if s.at <= now]
        if not due:
            continue
        breach = next((s for s in due if s.kind == "breach"), None)
        if breach is not None:
            done = clocks.breach(clock, breach.at)
            ticket = ticket.with_clock(done)
            effect = _timer_id(ticket, clock, "breach", breach.at)
            notes.append(Note("breached", done, effect, now, {"due_at": breach.at}))
            finished.append(Finished(ticket, done))
            continue
        levels = [s for s in due if s.kind == "warning"]
        prompts = [s for s in due if s.kind == "prompt"]
        warned = (*clock.warned, *(s.level for s in levels))
        prompted = (*clock.prompted, *(s.action for s in prompts if s.action))
        moved = clock.model_copy(
            update={"warned": tuple(sorted(set(warned))), "prompted": prompted}
        )
        ticket = ticket.with_clock(moved)
        shown = [levels[-1]] if levels else []  # several levels at once: the highest speaks
        for step in shown + prompts:
            effect = _timer_id(
                ticket, clock, f"{step.kind}:{step.level}:{step.action or ''}", step.at
            )
            extra = {"level": step.level, "prompt": step.action, "at": step.at}
            notes.append(Note("warning", moved, effect, now, extra))
    return Decision(schedule(ticket, rules), notes, finished)


def _timer_id(ticket: TicketSla, clock: Clock, what: str, at: datetime) -> str:
    """The same moment of the same clock always gives the same id, across replicas."""
    return f"{ticket.ticket_id}|{clock.metric}|{clock.cycle}|{what}|{ms(at).isoformat()}"
