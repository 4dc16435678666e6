"""SLA policies: how long each target allows, per priority, as read from `config/sla.yaml`."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from shared.events.sla import Metric
from shared.events.tickets import Priority


class Targets(BaseModel):
    """How long each target allows, read from ISO 8601 durations such as `PT3H`."""

    model_config = ConfigDict(frozen=True)

    first_response: timedelta = Field(
        gt=timedelta(0), description="Time allowed for the first agent reply."
    )
    resolution: timedelta = Field(gt=timedelta(0), description="Time allowed to resolve it.")

    def of(self, metric: Metric) -> timedelta:
        return self.first_response if metric == "first_response" else self.resolution


class SlaPolicies(BaseModel):
    """The contents of `config/sla.yaml`: a default and per-priority overrides."""

    model_config = ConfigDict(frozen=True)

    default: Targets
    priorities: dict[Priority, Targets] = Field(default_factory=dict)

    def policy_for(self, priority: Priority | None) -> Targets:
        """The priority's targets, or the default ones when it has none of its own."""
        if priority is None:
            return self.default
        return self.priorities.get(priority, self.default)
