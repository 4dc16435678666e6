"""What follows from a ticket's fact besides its figures: the moments the service must act on
later (a survey after the resolution, a wait in a queue or for a reply growing too long), and
the signs of poor service that an event shows at once (passed around, a repeat contact,
wording in a reply, a low score).

Both are derived from the fact itself, never from the order events arrived in: a timer's due
time is recomputed whenever the fact changes, and each signal's id is derived from what caused
it, so a redelivery raises the same signal and consumers drop the repeat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from services.insights.domain.facts import TicketFact
from services.insights.domain.measures import calendar_of
from services.insights.domain.wording import Phrases, judge
from shared.business_calendar import Calendars
from shared.events import (
    Event,
    SignalKind,
    SignalRaised,
    TicketAgentReplied,
    TicketCsatReceived,
    TicketOpened,
    TicketRouted,
    TicketTransferred,
)
from shared.ids import derived_id

TimerKind = Literal["survey", "queue_wait", "reply_wait", "over_capacity"]
#: The timers a ticket's fact arms (an agent's over-capacity timer is armed by its holdings).
TIMER_KINDS: tuple[TimerKind, ...] = ("survey", "queue_wait", "reply_wait")


@dataclass(frozen=True, slots=True)
class Due:
    """One timer of a ticket: when it falls due, and the key of what it is due for (a timer
    fires once per key: the survey once per ticket, a wait once per stretch of waiting)."""

    kind: TimerKind
    due_at: datetime
    key: str


@dataclass(frozen=True)
class FollowUpRules:
    survey_delay: timedelta
    survey_channels: frozenset[str]
    low_score: int
    queue_wait: timedelta | None
    reply_wait: timedelta | None
    transfers: int | None
    repeat_contact: bool
    website_only_max_words: int


def timers(fact: TicketFact, rules: FollowUpRules, calendars: Calendars) -> dict[TimerKind, Due]:
    """The timers the fact calls for now; a kind left out is not due at all (cancelled)."""
    due: dict[TimerKind, Due] = {}
    resolved = fact.resolved_at
    if resolved is not None and fact.csat_score is None and fact.channel in rules.survey_channels:
        due["survey"] = Due("survey", resolved + rules.survey_delay, "survey")
    queued = fact.waiting_in_queue_since
    if queued is not None and rules.queue_wait is not None:
        due["queue_wait"] = Due(
            "queue_wait", queued + rules.queue_wait, f"queue:{queued.isoformat()}"
        )
    waiting = fact.waiting_since
    if waiting is not None and rules.reply_wait is not None:
        # Business time: a customer who writes on Friday evening waits from Monday morning.
        calendar = calendar_of(fact, calendars)
        at = calendar.add(waiting, rules.reply_wait)
        due["reply_wait"] = Due("reply_wait", at, f"reply:{waiting.isoformat()}")
    return due


def _signal(
    fact: TicketFact, cause: Event, kind: SignalKind, detail: str, **fields: object
) -> SignalRaised:
    return cause.caused(
        SignalRaised,
        f"insights-signal:{kind}",
        subject=fact.ticket_id,
        kind=kind,
        team=fact.team,
        agent_id=fields.pop("agent_id", fact.agent_id),
        reference=fact.reference,
        detail=detail,
        **fields,
    )


def _repeat_now_told(fact: TicketFact, event: Event, before: TicketFact | None) -> bool:
    """A repeat contact is told once its ticket has a team to tell: on its opening if routing
    was read first, else on its routing (whichever event completes the two)."""
    if not isinstance(event, TicketOpened | TicketRouted) or not fact.repeat_of:
        return False
    if fact.team is None:
        return False
    was_told = before is not None and before.repeat_of is not None and before.team is not None
    return not was_told


def _repeat(fact: TicketFact) -> SignalRaised:
    kind: SignalKind = "repeat_contact"
    detail = f"the customer had to contact us again about {fact.repeat_of}"
    if fact.repeat_channel is not None and fact.repeat_channel != fact.channel:
        kind = "another_channel"
        detail = (
            f"the customer wrote again by {fact.channel} about {fact.repeat_of}, first raised "
            f"by {fact.repeat_channel}"
        )
    return SignalRaised(
        # From the ticket, not the event: either of two events may complete it.
        event_id=derived_id("insights-signal", "repeat", fact.ticket_id),
        ticket_id=fact.ticket_id,
        subject=fact.ticket_id,
        kind=kind,
        team=fact.team,
        agent_id=fact.agent_id,
        reference=fact.reference,
        detail=detail,
    )


def signals_of(
    fact: TicketFact,
    event: Event,
    rules: FollowUpRules,
    phrases: Phrases,
    before: TicketFact | None = None,
) -> list[SignalRaised]:
    """The signs of poor service `event` shows on the ticket (its fact already folded in;
    `before`, the fact it was folded into). A sign about a ticket that has neither a team nor
    an agent yet has nobody to tell, and is not raised."""
    out: list[SignalRaised] = []
    if isinstance(event, TicketTransferred) and rules.transfers is not None:
        if event.transfer_count == rules.transfers:
            out.append(_signal(
                fact, event, "passed_around",
                f"transferred {event.transfer_count} times, the last to {event.to_team}",
                value=float(event.transfer_count), threshold=float(rules.transfers),
            ))  # fmt: skip
    elif rules.repeat_contact and _repeat_now_told(fact, event, before):
        out.append(_repeat(fact))
    elif isinstance(event, TicketAgentReplied):
        wording = judge(event.body, fact.language, phrases, rules.website_only_max_words)
        if wording.negative:
            out.append(_signal(
                fact, event, "negative_wording",
                "reply worded: " + "; ".join(f"\u201c{p}\u201d" for p in wording.negative),
                agent_id=event.agent_id,
            ))  # fmt: skip
        if wording.website_only:
            out.append(_signal(
                fact, event, "website_only",
                "reply only sends the customer to the website "
                f"(\u201c{wording.website_only}\u201d)",
                agent_id=event.agent_id,
            ))  # fmt: skip
    elif isinstance(event, TicketCsatReceived) and event.score <= rules.low_score:
        out.append(_signal(
            fact, event, "low_csat", f"the customer rated the service {event.score} of 5",
            value=float(event.score), threshold=float(rules.low_score),
        ))  # fmt: skip
    return [signal for signal in out if signal.team is not None or signal.agent_id is not None]


def wait_signal(fact: TicketFact, due: Due, threshold: timedelta, now: datetime) -> SignalRaised:
    """The signal of a wait that reached its threshold (raised by the timer), its id derived
    from the ticket and the stretch of waiting, so every replica raises the same one."""
    since = datetime.fromisoformat(due.key.split(":", 1)[1])
    kind: SignalKind = "queue_wait" if due.kind == "queue_wait" else "reply_wait"
    where = "in the team's queue" if kind == "queue_wait" else "for an agent's reply"
    return SignalRaised(
        event_id=derived_id("insights-signal", fact.ticket_id, due.key),
        ticket_id=fact.ticket_id,
        subject=fact.ticket_id,
        kind=kind,
        team=fact.team,
        agent_id=fact.agent_id,
        reference=fact.reference,
        value=round((now - since).total_seconds()),
        threshold=threshold.total_seconds(),
        detail=f"the customer has waited {where} since {since:%Y-%m-%d %H:%M} UTC",
    )
