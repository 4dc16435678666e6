"""`signals` and `reports` in config/notifier.yaml: who hears of each sign of poor service, and
by which channels, and how a monthly report reaches its manager.

Coaching notices and reports go by email and push only: a chat room is the team's, read by
the very agents a sign is about."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from shared.events import SignalKind

SignalRole = Literal["lead", "manager"]
InsightChannel = Literal["email", "push"]
V = TypeVar("V", bound=str)


def _no_chat_room(value: Any) -> Any:
    if isinstance(value, list | tuple) and "webhook" in value:
        raise ValueError(
            "a coaching notice or report never goes to a chat room (the team's agents read "
            "it); use email and push"
        )
    return value


def _once_each(values: tuple[V, ...]) -> tuple[V, ...]:
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"listed twice: {repeated}")
    return values


Roles = Annotated[tuple[SignalRole, ...], Field(min_length=1), AfterValidator(_once_each)]
Channels = Annotated[
    tuple[InsightChannel, ...],
    BeforeValidator(_no_chat_room),
    Field(min_length=1),
    AfterValidator(_once_each),
]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True)
class Audience:
    """Who is told of a sign or a report, how, and whether it may wait for working hours."""

    notify: tuple[SignalRole, ...]
    channels: tuple[InsightChannel, ...]
    urgent: bool


class SignalRule(_Section):
    """A kind's own rule: what it sets replaces the section's, the rest is the section's."""

    notify: Roles | None = None
    channels: Channels | None = None
    urgent: bool | None = None


class SignalRules(_Section):
    """Every kind is told to the team's lead (its manager when it has none) by email and
    push unless a kind has its own rule, or is switched off (`off`: YAML reads it as false,
    and a quoted "off" means the same)."""

    notify: Roles = ("lead",)
    channels: Channels = ("email", "push")
    urgent: bool = Field(default=False, description="False: email waits for working hours.")
    kinds: dict[SignalKind, SignalRule | Literal[False, "off"]] = Field(default_factory=dict)

    def audience(self, kind: SignalKind) -> Audience | None:
        """Who hears of a sign of this kind, or None when the kind is switched off."""
        own = self.kinds.get(kind, SignalRule())
        if not isinstance(own, SignalRule):
            return None
        return Audience(
            notify=own.notify or self.notify,
            channels=own.channels or self.channels,
            urgent=self.urgent if own.urgent is None else own.urgent,
        )

    def roles(self) -> set[SignalRole]:
        rules = [rule for rule in self.kinds.values() if isinstance(rule, SignalRule)]
        return {*self.notify, *(role for rule in rules for role in rule.notify or ())}


class MonthlyReportRule(_Section):
    channels: Channels = ("email",)
    urgent: bool = Field(default=False, description="False: waits for working hours.")


class ReportRules(_Section):
    """`monthly`: how a monthly report reaches its manager; `off` mails none."""

    monthly: MonthlyReportRule | Literal[False, "off"] = Field(default_factory=MonthlyReportRule)

    def audience(self) -> Audience | None:
        if not isinstance(self.monthly, MonthlyReportRule):
            return None
        return Audience(
            notify=("manager",), channels=self.monthly.channels, urgent=self.monthly.urgent
        )
