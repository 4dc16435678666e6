"""One SLA target of one ticket, measured in business time: pause, resume, retarget, satisfy.

A clock keeps the business time it `used` before its current running stretch, and when that
stretch began (`running_since`). While it runs, the time used at any instant is `used` plus
the calendar's open time since `running_since`; pausing folds that into `used`, resuming
starts a new stretch. The deadline is therefore always "running_since plus what is left of
the target, in business time", and a pause moves it by exactly the paused time.

Everything here is pure: the calendar is passed in, and `now` is an argument.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict

from services.sla.domain.policies import Prompt
from shared.events.sla import Metric

ClockStatus = Literal["running", "paused", "met", "breached"]


class Calendar(Protocol):
    """Business time: what `shared.business_calendar.BusinessCalendar` provides."""

    @property
    def name(self) -> str: ...

    def add(self, start: datetime, amount: timedelta) -> datetime: ...
    def elapsed(self, start: datetime, end: datetime) -> timedelta: ...


def ms(instant: datetime) -> datetime:
    """MongoDB keeps milliseconds; truncating first keeps stored and computed times equal."""
    return instant.replace(microsecond=instant.microsecond // 1000 * 1000)


class Clock(BaseModel):
    """One target (first response, next reply or resolution) of one ticket, in one cycle."""

    model_config = ConfigDict(frozen=True)

    metric: Metric
    cycle: int = 0
    target: timedelta
    started_at: AwareDatetime
    used: timedelta = timedelta(0)
    running_since: AwareDatetime | None = None
    due_at: AwareDatetime | None = None
    breached_at: AwareDatetime | None = None
    satisfied_at: AwareDatetime | None = None
    satisfied_by: str | None = None
    warned: tuple[int, ...] = ()
    prompted: tuple[str, ...] = ()

    @property
    def open(self) -> bool:
        """Still waiting for the reply or resolution that satisfies it (even if breached)."""
        return self.satisfied_at is None

    @property
    def status(self) -> ClockStatus:
        if self.breached_at is not None:
            return "breached"
        if self.satisfied_at is not None:
            return "met"
        return "running" if self.running_since is not None else "paused"

    def used_at(self, calendar: Calendar, now: datetime) -> timedelta:
        """Business time used by `now`."""
        if self.running_since is None or now <= self.running_since:
            return self.used
        return self.used + calendar.elapsed(self.running_since, now)

    def remaining_at(self, calendar: Calendar, now: datetime) -> timedelta:
        return self.target - self.used_at(calendar, now)


def start(
    metric: Metric,
    target: timedelta,
    at: datetime,
    calendar: Calendar,
    *,
    cycle: int = 0,
    used: timedelta = timedelta(0),
    paused: bool = False,
) -> Clock:
    clock = Clock(metric=metric, cycle=cycle, target=target, started_at=ms(at), used=used)
    return clock if paused else resume(clock, calendar, at)


def pause(clock: Clock, calendar: Calendar, now: datetime) -> Clock:
    if clock.running_since is None or not clock.open:
        return clock
    # The same millisecond instant a resume would start from: no sliver counted twice.
    used = clock.used_at(calendar, ms(now))
    return clock.model_copy(update={"used": used, "running_since": None, "due_at": None})


def resume(clock: Clock, calendar: Calendar, now: datetime) -> Clock:
    """Run again from `now`; the deadline is what is left of the target, in business time."""
    if clock.running_since is not None or not clock.open:
        return clock
    at = ms(now)
    due = None
    if clock.breached_at is None:
        due = ms(calendar.add(at, max(timedelta(0), clock.target - clock.used)))
    return clock.model_copy(update={"running_since": at, "due_at": due})


def retarget(
    clock: Clock,
    calendar: Calendar,
    target: timedelta,
    now: datetime,
    *,
    to: Calendar | None = None,
) -> Clock:
    """A new target, or a move from `calendar` to calendar `to`, from `now`, keeping the
    business time used (measured on the old calendar up to `now`, on the new one after).

    Warning levels the clock is no longer past under the new target are forgotten, so they
    warn again when reached. A missed deadline stays where it was.
    """
    if not clock.open:
        return clock
    stopped = pause(clock, calendar, now)
    passed = tuple(level for level in clock.warned if target * level // 100 <= stopped.used)
    moved = stopped.model_copy(update={"target": target, "warned": passed})
    if clock.running_since is None:
        return moved
    running = resume(moved, to or calendar, now)
    if clock.breached_at is not None:
        return running.model_copy(update={"due_at": clock.due_at})
    return running


def satisfy(clock: Clock, calendar: Calendar, at: datetime, cause: str) -> Clock:
    """The reply or resolution came: the clock stops with its final business time used."""
    if not clock.open:
        return clock
    stopped = pause(clock, calendar, at)
    # The last deadline is kept: it is the one the reply or resolution beat (or missed).
    return stopped.model_copy(
        update={"satisfied_at": ms(at), "satisfied_by": cause, "due_at": clock.due_at}
    )


def breach(clock: Clock, due_at: datetime) -> Clock:
    """The deadline passed: the clock stays open until its reply or resolution comes."""
    return clock.model_copy(update={"breached_at": ms(due_at)})


class Step(BaseModel):
    """A pending moment of a running clock: a warning level, a prompt, or the deadline."""

    model_config = ConfigDict(frozen=True)

    at: AwareDatetime
    kind: Literal["warning", "prompt", "breach"]
    level: int = 100
    action: str | None = None


def pending_steps(
    clock: Clock, calendar: Calendar, levels: tuple[int, ...], prompts: tuple[Prompt, ...]
) -> list[Step]:
    """What is still to come on a running clock, earliest first."""
    since, due = clock.running_since, clock.due_at
    if since is None or due is None or not clock.open or clock.breached_at is not None:
        return []
    steps: list[Step] = []
    for level in levels:
        if level not in clock.warned:
            # A level already passed (a shorter target, time carried into a new cycle) is
            # due at once rather than skipped, so the warning and the colour still come.
            mark = clock.target * level // 100
            at = ms(calendar.add(since, max(mark - clock.used, timedelta(0))))
            steps.append(Step(at=at, kind="warning", level=level))
    for prompt in prompts:
        if prompt.metric == clock.metric and prompt.action not in clock.prompted:
            after = max(prompt.after - clock.used, timedelta(0))
            at = ms(calendar.add(since, after))
            level = min(100, max(1, round(100 * prompt.after / clock.target)))
            steps.append(Step(at=at, kind="prompt", level=level, action=prompt.action))
    steps.append(Step(at=due, kind="breach"))
    return sorted(steps, key=lambda s: (s.at, s.kind == "breach"))
