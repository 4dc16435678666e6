"""`config/routing.yaml`: assignment, queue orders, escalation and transfer rules, checked
against the teams and calendars they name."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from services.router.domain.vocabulary import TIERS, Tier
from shared.config import ConfigError
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


def check_rules(
    rules: RoutingRules, directory: Directory, calendars: Iterable[str], teams_routed_to: set[str]
) -> None:
    """Stop the service at start when a rule names a team or calendar that does not exist, or
    a team that receives tickets could hold one at a tier nobody can work."""
    known_calendars = set(calendars)
    problems: list[str] = []
    for team_name in [*rules.queues.teams, *rules.escalation.teams_for_tier.values()]:
        if directory.team(team_name) is None:
            problems.append(f"routing.yaml names team {team_name!r}, not in teams.yaml")
    for team in directory.teams:
        shifts = [(f"team {team.name}", team.shift_calendar)]
        shifts += [(f"agent {a.person_id}", a.shift) for a in team.agents]
        problems += [
            f"teams.yaml: {who} has shift calendar {name!r}, not in calendars.yaml"
            for who, name in shifts
            if name is not None and name not in known_calendars
        ]
    for team_name in sorted(teams_routed_to):
        if directory.team(team_name) is None:
            problems.append(f"categories.yaml routes to team {team_name!r}, not in teams.yaml")
            continue
        for tier in TIERS:
            target = directory.team(rules.team_for_tier(directory, team_name, tier))
            if target is None or not any(a.tier == tier for a in target.agents):
                problems.append(
                    f"team {team_name!r} has no {tier} agent and routing.yaml "
                    f"escalation.teams_for_tier names none for {tier}"
                )
    if problems:
        raise ConfigError("; ".join(problems))
