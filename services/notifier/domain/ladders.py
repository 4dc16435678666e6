"""Escalation ladders (the rules of `config/notifier.yaml`): which step of which ladder a notice is,
who hears at each step, on which channels, and whether it may wait or be folded into a digest.

A breach climbs its metric's ladder: rung 0 is told at once; if nobody acknowledges within
the rung's `acknowledge_within`, `next_step` gives the rung above, until the top rung, after
which the ladder is exhausted. Warnings, prompts, router events, signs of poor service and
monthly reports are single steps.
"""

from __future__ import annotations

import contextlib
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    field_validator,
    model_validator,
)

from services.notifier.domain.addresses import WebhookRules
from services.notifier.domain.insight_rules import Audience, ReportRules, SignalRules
from services.notifier.domain.notices import Notice, NoticeKind, Role
from shared.business_calendar import Calendars
from shared.directory import Directory, Person
from shared.events.notifications import DeliveryChannel
from shared.events.sla import Metric

METRICS: tuple[Metric, ...] = ("first_response", "next_reply", "resolution")
_UNITS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1, "": 1}
_DURATION = re.compile(r"\d+(?:\.\d+)?|(?:\d+(?:\.\d+)?[dhms])+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([dhms]?)")
_ISO_DURATION = TypeAdapter(timedelta)


def parse_duration(value: Any) -> timedelta:
    """'90s', '10m', '2h', '1d', '1h30m', plain seconds (90) or ISO 8601 ('PT10M')."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if math.isfinite(value) and value >= 0:
            return timedelta(seconds=value)
    elif isinstance(value, str) and _DURATION.fullmatch(text := value.strip().lower()):
        return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in _DURATION_PART.findall(text)))
    elif isinstance(value, str) and text.startswith("p"):
        with contextlib.suppress(ValueError):
            if (parsed := _ISO_DURATION.validate_python(value.strip())) >= timedelta(0):
                return parsed
    raise ValueError(
        f"{value!r} is not a duration: write e.g. '90s', '10m', '2h', '1h30m' "
        "or a number of seconds"
    )


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _unique(values: tuple[str, ...], what: str) -> None:
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"{what} listed twice: {repeated}")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Audience(_Frozen):
    notify: tuple[Role, ...] = Field(min_length=1)
    channels: tuple[DeliveryChannel, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _no_repeats(self) -> _Audience:
        _unique(self.notify, "roles")
        _unique(self.channels, "channels")
        return self


class Rule(_Audience):
    """Who is told and how: roles, channels, and whether it may wait for working hours."""

    urgent: bool = False


class WarningStep(Rule):
    at_percent: int = Field(ge=1, le=100, description="Share of the target used.")


class Rung(_Audience):
    acknowledge_within: Duration | None = Field(
        default=None, gt=timedelta(0), description="This rung's own wait; default: the ladder's."
    )


class BreachLadder(_Frozen):
    acknowledge_within: Duration = Field(gt=timedelta(0))
    rungs: tuple[Rung, ...] = Field(min_length=1)


class MetricLadder(_Frozen):
    warnings: tuple[WarningStep, ...] = ()
    breach: BreachLadder

    @field_validator("warnings")
    @classmethod
    def _sorted_levels(cls, steps: tuple[WarningStep, ...]) -> tuple[WarningStep, ...]:
        _unique(tuple(str(step.at_percent) for step in steps), "warning levels")
        return tuple(sorted(steps, key=lambda step: step.at_percent))


class Ladders(_Frozen):
    first_response: MetricLadder
    next_reply: MetricLadder
    resolution: MetricLadder


class EventRules(_Frozen):
    assigned: Rule | None = None
    escalated: Rule | None = None
    transfers_exceeded: Rule | None = None


class Digest(_Frozen):
    window: Duration = Field(default=timedelta(0), ge=timedelta(0))
    kinds: tuple[NoticeKind, ...] = ("sla_warning",)
    channels: tuple[DeliveryChannel, ...] = ("email", "webhook")


class WorkingHours(_Frozen):
    default_calendar: str | None = None
    people: dict[str, str] = Field(default_factory=dict)


class NotifierConfig(_Frozen):
    """config/notifier.yaml, validated."""

    ladders: Ladders
    prompts: Rule = Rule(notify=("assignee",), channels=("email",), urgent=True)
    events: EventRules = Field(default_factory=EventRules)
    signals: SignalRules = Field(default_factory=SignalRules)
    reports: ReportRules = Field(default_factory=ReportRules)
    digest: Digest = Field(default_factory=Digest)
    on_call: dict[str, Person] = Field(default_factory=dict)
    working_hours: WorkingHours = Field(default_factory=WorkingHours)
    webhooks: WebhookRules = Field(default_factory=WebhookRules)

    def ladder(self, metric: str | None) -> MetricLadder:
        if metric not in METRICS:
            raise ValueError(f"no ladder for metric {metric!r}; known: {list(METRICS)}")
        found: MetricLadder = getattr(self.ladders, metric)
        return found

    def roles_used(self) -> set[Role]:
        events = (self.events.assigned, self.events.escalated, self.events.transfers_exceeded)
        rules: list[Rule | Rung] = [self.prompts, *(rule for rule in events if rule)]
        for metric in METRICS:
            rules += [*self.ladder(metric).warnings, *self.ladder(metric).breach.rungs]
        return {role for rule in rules for role in rule.notify} | self.signals.roles()


class Step(_Frozen):
    """One step of a ladder: who to tell, how, and (on a breach rung) how long to wait."""

    notify: tuple[Role, ...]
    channels: tuple[DeliveryChannel, ...]
    urgent: bool
    acknowledge_within: timedelta | None = None
    rung: int = Field(default=0, ge=0)
    rungs: int = Field(default=1, ge=1)
    level: str = Field(examples=["warning:90", "breach", "prompt", "assigned"])


def _rule_step(rule: Rule, level: str) -> Step:
    return Step(notify=rule.notify, channels=rule.channels, urgent=rule.urgent, level=level)


def _breach_step(config: NotifierConfig, metric: str | None, rung: int) -> Step | None:
    ladder = config.ladder(metric).breach
    if rung >= len(ladder.rungs):
        return None
    chosen = ladder.rungs[rung]
    return Step(
        notify=chosen.notify,
        channels=chosen.channels,
        urgent=True,  # a missed target never waits for office hours
        acknowledge_within=chosen.acknowledge_within or ladder.acknowledge_within,
        rung=rung,
        rungs=len(ladder.rungs),
        level="breach",
    )


def _audience_step(audience: Audience | None, level: str) -> Step | None:
    if audience is None:
        return None
    return Step(
        notify=audience.notify, channels=audience.channels, urgent=audience.urgent, level=level
    )


def first_step(notice: Notice, config: NotifierConfig) -> Step | None:
    """The step a notice starts at, or None when nobody is to be told."""
    if notice.signal is not None:
        kind = notice.signal.kind
        return _audience_step(config.signals.audience(kind), f"signal:{kind}")
    if notice.report is not None:
        return _audience_step(config.reports.audience(), "monthly_report")
    if notice.kind == "sla_warning":
        used = notice.level_percent or 0
        reached = [s for s in config.ladder(notice.metric).warnings if s.at_percent <= used]
        return _rule_step(reached[-1], f"warning:{reached[-1].at_percent}") if reached else None
    if notice.kind == "sla_breach":
        return _breach_step(config, notice.metric, 0)
    if notice.kind == "sla_prompt":
        return _rule_step(config.prompts, "prompt")
    rule: Rule | None = getattr(config.events, notice.kind)
    return _rule_step(rule, notice.kind) if rule else None


def next_step(config: NotifierConfig, metric: str, rung: int) -> Step | None:
    """The breach rung above `rung` of the metric's ladder; None at the top."""
    if rung < 0:
        raise ValueError(f"rung must not be negative, got {rung}")
    return _breach_step(config, metric, rung + 1)


def is_digestible(notice: Notice, channel: DeliveryChannel, config: NotifierConfig) -> bool:
    """Whether this notice on this channel may be folded with others into one digest."""
    digest = config.digest
    return (
        digest.window > timedelta(0) and notice.kind in digest.kinds and channel in digest.channels
    )


def digest_slot(previous: datetime | None, *, now: datetime, window: timedelta) -> datetime:
    """When to send a digestible message to a person on a channel, given when the last one to
    them there was scheduled: at once when that slot is a window or more ago; else one window
    after it. A slot still ahead is answered with itself, so what arrives meanwhile is folded
    into it and nobody gets more than one message per window."""
    if previous is None or previous + window <= now:
        return now
    if previous > now:
        return previous
    return previous + window


@dataclass(frozen=True)
class Rules:
    """Everything the notifier decides by: its ladders and the people and calendars they name
    (loaded and cross-checked by `services.notifier.config`)."""

    ladders: NotifierConfig
    directory: Directory
    calendars: Calendars
