"""The router's triage rules, `config/triage.yaml`: priority from impact and urgency, and tiers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from services.router.domain.priority import PriorityRules
from services.router.domain.tiers import TierRules


class TriageRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    priority: PriorityRules
    tiers: TierRules
