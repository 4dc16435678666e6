"""SLA policies from `config/sla.yaml`: targets per priority, plan and category, the warning
ladder, colours, pausing and reopening rules. The most specific matching policy wins.

Matching works target by target: the default policy gives every target, and each matching
policy, from the least specific (fewest conditions) to the most specific, overrides the
targets it names. So a billing policy that only lengthens resolution keeps the P1 policy's
first response when both match.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.events.sla import Metric
from shared.events.tickets import Priority, TicketStatus

METRICS: tuple[Metric, ...] = ("first_response", "next_reply", "resolution")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Targets(_Frozen):
    """Business time allowed per target, as ISO 8601 durations such as `PT3H`."""

    first_response: timedelta | None = Field(default=None, gt=timedelta(0))
    next_reply: timedelta | None = Field(default=None, gt=timedelta(0))
    resolution: timedelta | None = Field(default=None, gt=timedelta(0))

    def of(self, metric: Metric) -> timedelta | None:
        target: timedelta | None = getattr(self, metric)
        return target


class Prompt(_Frozen):
    """Something to do once a clock has used some business time (phone the customer, say)."""

    action: str = Field(min_length=1, examples=["call_customer"])
    metric: Metric = "resolution"
    after: timedelta = Field(gt=timedelta(0), description="Business time used on the clock.")


class Match(_Frozen):
    """Conditions of a policy; a missing condition matches anything."""

    priority: Priority | None = None
    plan: str | None = None
    category: str | None = None

    @property
    def specificity(self) -> int:
        return sum(v is not None for v in (self.priority, self.plan, self.category))

    def matches(self, priority: str | None, plan: str | None, category: str | None) -> bool:
        return all(
            want is None or want == have
            for want, have in (
                (self.priority, priority),
                (self.plan, plan),
                (self.category, category),
            )
        )


class Policy(_Frozen):
    name: str = Field(min_length=1)
    match: Match = Field(default_factory=Match)
    targets: Targets = Field(default_factory=Targets)
    calendar: str | None = Field(
        default=None, description="A calendar of calendars.yaml; else the team's calendar."
    )
    prompts: tuple[Prompt, ...] | None = None


class DefaultPolicy(_Frozen):
    targets: Targets
    prompts: tuple[Prompt, ...] = ()
    calendar: str | None = None

    @model_validator(mode="after")
    def _main_targets(self) -> DefaultPolicy:
        if self.targets.first_response is None or self.targets.resolution is None:
            raise ValueError("the default policy needs first_response and resolution targets")
        return self


class Colours(_Frozen):
    """The share of a target used at which a ticket turns amber, then red (a breach: red)."""

    amber: int = Field(default=75, ge=1, le=100)
    red: int = Field(default=90, ge=1, le=100)


class Terms(_Frozen):
    """What applies to one ticket: the winning policy's name, calendar, targets and prompts."""

    policy: str
    calendar: str | None
    targets: dict[Metric, timedelta]
    prompts: tuple[Prompt, ...]


class SlaPolicies(_Frozen):
    """The contents of `config/sla.yaml`."""

    warning_levels: tuple[int, ...] = (50, 75, 90)
    colours: Colours = Field(default_factory=Colours)
    pause_on: frozenset[TicketStatus] = frozenset({"pending", "on_hold"})
    on_reopen: Literal["restart", "resume"] = Field(
        default="restart",
        description="restart: a reopened ticket gets its whole resolution target again; "
        "resume: it continues from the business time used before.",
    )
    default: DefaultPolicy
    policies: tuple[Policy, ...] = ()

    @model_validator(mode="after")
    def _valid(self) -> SlaPolicies:
        levels = self.warning_levels
        if list(levels) != sorted(set(levels)) or any(not 0 < p < 100 for p in levels):
            raise ValueError(f"warning_levels must rise strictly between 0 and 100: {levels}")
        names = [p.name for p in self.policies]
        if len(names) != len(set(names)):
            raise ValueError(f"policy names must be unique: {names}")
        if not {self.colours.amber, self.colours.red} <= set(levels):
            raise ValueError("colours.amber and colours.red must be among the warning_levels")
        if self.colours.amber >= self.colours.red:
            raise ValueError("colours.amber must be a lower level than colours.red")
        if self.pause_on - {"pending", "on_hold"}:
            raise ValueError("pause_on may hold only pending and on_hold")
        return self

    def terms(self, *, priority: str | None, plan: str | None, category: str | None) -> Terms:
        """The targets for a ticket: the default, overridden by ever more specific policies."""
        matching = sorted(
            (p for p in self.policies if p.match.matches(priority, plan, category)),
            key=lambda p: p.match.specificity,
        )
        targets = {m: self.default.targets.of(m) for m in METRICS}
        prompts, calendar, name = self.default.prompts, self.default.calendar, "default"
        for policy in matching:
            for metric in METRICS:
                target = policy.targets.of(metric)
                if target is not None:
                    targets[metric] = target
            prompts = policy.prompts if policy.prompts is not None else prompts
            calendar = policy.calendar or calendar
            name = policy.name
        return Terms(
            policy=name,
            calendar=calendar,
            targets={m: t for m, t in targets.items() if t is not None},
            prompts=prompts,
        )


def calendars_named(policies: SlaPolicies) -> list[tuple[str, str, str]]:
    """Every calendar the policies name: (field in sla.yaml, policy, calendar)."""
    named = []
    if policies.default.calendar is not None:
        named.append(("default.calendar", "default", policies.default.calendar))
    for n, policy in enumerate(policies.policies):
        if policy.calendar is not None:
            named.append((f"policies.{n}.calendar", policy.name, policy.calendar))
    return named
