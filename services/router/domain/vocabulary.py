"""Words the routing rules share: impact and urgency levels, difficulty, technical level, tiers."""

from __future__ import annotations

from typing import Literal

from shared.events.tickets import Priority, Tier

__all__ = ["LEVELS", "TIERS", "Difficulty", "Level", "Priority", "TechLevel", "Tier"]

Level = Literal["high", "medium", "low"]
LEVELS: tuple[Level, ...] = ("high", "medium", "low")
#: How hard a kind of problem is to solve, from the category tree.
Difficulty = Literal["easy", "medium", "hard"]
#: How technical the customer is, from their wording and history.
TechLevel = Literal["novice", "intermediate", "expert"]
TIERS: tuple[Tier, ...] = ("L1", "L2", "L3")
