"""The router's triage rules, `config/triage.yaml`: priority from impact and urgency, and tiers."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from services.router.domain.priority import PriorityRules
from services.router.domain.tiers import TierRules
from shared.config import load_yaml


class TriageRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    priority: PriorityRules
    tiers: TierRules


def load_triage(config_dir: Path) -> TriageRules:
    """The validated rules; raises shared.config.ConfigError saying what is wrong."""
    return load_yaml(config_dir / "triage.yaml", TriageRules)
