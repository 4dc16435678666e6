"""`config/routing.yaml`: assignment, queue orders, escalation and transfer rules (checked
against the teams and calendars they name by `services/router/config.py`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from services.router.domain.vocabulary import Tier
from shared.directory import Directory
from shared.events import Presence, QueueOrder
from shared.events.sla import Metric

ESCALATING_METRICS: tuple[Metric, ...] = ("first_response", "resolution")


class _Rules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AssignmentRules(_Rules):
    returning_customer_max_utilisation: float = Field(default=0.8, gt=0, le=1)
    acknowledge_within_seconds: float | None = Field(default=600, gt=0)
    initial_presence: Presence = "online"


class QueueRules(_Rules):
    default_order: QueueOrder = "fifo"
    teams: dict[str, QueueOrder] = Field(default_factory=dict)

    def order_for(self, team: str) -> QueueOrder:
        return self.teams.get(team, self.default_order)


class EscalationRules(_Rules):
    at_sla_warning_percent: int | None = Field(default=90, ge=1, le=100)
    metrics: list[Metric] = Field(default_factory=lambda: list(ESCALATING_METRICS))
    teams_for_tier: dict[Tier, str] = Field(default_factory=dict)


class TransferRules(_Rules):
    report_after: int = Field(default=3, ge=0)


class RoutingRules(_Rules):
    assignment: AssignmentRules = AssignmentRules()
    queues: QueueRules = QueueRules()
    escalation: EscalationRules = EscalationRules()
    transfers: TransferRules = TransferRules()

    def team_for_tier(self, directory: Directory, team: str, tier: Tier) -> str:
        """The ticket's team if anyone there works at `tier`, else the team configured for it."""
        own = directory.team(team)
        if own is not None and any(agent.tier == tier for agent in own.agents):
            return team
        return self.escalation.teams_for_tier.get(tier, team)
