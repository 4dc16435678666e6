"""Support tiers: where a ticket starts, from how hard the problem is and how technical the
customer is (their wording and their history), and where it goes when escalated."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from services.router.domain.priority import Language, PhraseBook, check_phrases
from services.router.domain.vocabulary import TIERS, Difficulty, TechLevel, Tier
from shared.text import normalise, terms

DIFFICULTIES: tuple[Difficulty, ...] = ("easy", "medium", "hard")
TECH_LEVELS: tuple[TechLevel, ...] = ("novice", "intermediate", "expert")

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
# Tokens only someone at ease with their system copies into a ticket. Each kind counts once:
# a pasted log full of addresses says no more than one address does.
_TOKENS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("IPv4 address", re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\.?\d)")),
    ("MAC address", re.compile(r"(?<![\w:-])[0-9a-f]{2}([:-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}\b")),
    ("error code", re.compile(r"\b0x[0-9a-f]{4,16}\b")),
    ("version", re.compile(r"(?<![\w.])v?\d+(?:\.\d+){2,3}(?!\.?\d)")),
)
# 12.05.2024 is a date, not a version; an address is not a version either.
_DATE = re.compile(r"\d{1,2}\.\d{1,2}\.\d{4}")
_IPV4 = _TOKENS[0][1]


class TierRules(BaseModel):
    """The `tiers` section of `config/triage.yaml`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    starting: dict[Difficulty, dict[TechLevel, Tier]]
    technical_cues: dict[Language, list[str]] = Field(min_length=1)
    expert_from: float = Field(gt=0, le=1)
    intermediate_from: float = Field(gt=0, le=1)
    history_weight: float = Field(ge=0, le=1)
    _cues: PhraseBook = PrivateAttr()

    @field_validator("technical_cues")
    @classmethod
    def _cues_have_words(cls, value: dict[Language, list[str]]) -> dict[Language, list[str]]:
        check_phrases(value)
        return value

    @model_validator(mode="after")
    def _check(self) -> TierRules:
        missing = [
            f"{difficulty} x {level}"
            for difficulty in DIFFICULTIES
            for level in TECH_LEVELS
            if level not in self.starting.get(difficulty, {})
        ]
        if missing:
            raise ValueError(f"starting tier table is incomplete, it lacks {', '.join(missing)}")
        if self.intermediate_from >= self.expert_from:
            raise ValueError(
                f"intermediate_from ({self.intermediate_from}) must be below "
                f"expert_from ({self.expert_from})"
            )
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._cues = PhraseBook(self.technical_cues)

    def cues(self, text: str, language: str | None) -> tuple[str, ...]:
        return self._cues.find(terms(text), language)


@dataclass(frozen=True)
class CustomerHistory:
    """What past tickets say about a customer; kept per customer by the router."""

    tickets: int = 0
    technical_score: float = 0.0  # running mean of wording scores, 0..1
    highest_tier: Tier | None = None  # highest tier any of their tickets reached

    def __post_init__(self) -> None:
        if self.tickets < 0:
            raise ValueError(f"tickets must not be negative, got {self.tickets}")
        if not 0.0 <= self.technical_score <= 1.0:
            raise ValueError(f"technical_score must be within 0..1, got {self.technical_score}")
        if self.highest_tier is not None and self.highest_tier not in TIERS:
            raise ValueError(f"highest_tier must be one of {TIERS}, got {self.highest_tier!r}")


def technical_tokens(text: str) -> tuple[str, ...]:
    """The kinds of technical token in the text, each with the first one seen."""
    folded = normalise(text)
    found = []
    for kind, pattern in _TOKENS:
        for match in pattern.finditer(folded):
            token = match.group(0)
            if kind == "version" and (_DATE.fullmatch(token) or _IPV4.fullmatch(token)):
                continue
            found.append(f"{kind} {token}")
            break
    return tuple(found)


def wording_score(
    text: str, language: str | None, rules: TierRules
) -> tuple[float, tuple[str, ...]]:
    """How technical the wording is, 0..1, and the cues found in it.

    Each distinct cue halves the distance left to 1 (one cue 0.5, two 0.75, three 0.875), so a
    few real terms say a lot and a long list cannot pass 1.
    """
    cues = rules.cues(text, language) + technical_tokens(text)
    return round(1 - 0.5 ** len(cues), 4), cues


def technical_level(
    wording: float, history: CustomerHistory, rules: TierRules
) -> tuple[TechLevel, str]:
    """The customer's technical level from this ticket's wording and their history."""
    if not 0.0 <= wording <= 1.0:
        raise ValueError(f"wording must be within 0..1, got {wording}")
    if history.tickets:
        # One past ticket is thin evidence, many are not: the history's share grows towards
        # history_weight as tickets add up (1 ticket: half of it, 3 tickets: three quarters).
        weight = rules.history_weight * history.tickets / (history.tickets + 1)
        score = (1 - weight) * wording + weight * history.technical_score
        basis = (
            f"wording {wording:.2f} and {_tickets(history.tickets)} averaging "
            f"{history.technical_score:.2f} give {score:.2f}"
        )
    else:
        score, basis = wording, f"wording {wording:.2f}, no past tickets"
    level: TechLevel = (
        "expert"
        if score >= rules.expert_from
        else "intermediate"
        if score >= rules.intermediate_from
        else "novice"
    )
    reason = f"{level}: {basis}"
    # A ticket reaches L2 or L3 only after its customer has been through the first-line script
    # and worked with specialists on their own systems: they know their setup and have done
    # the basic checks before. Starting them on the novice script again wastes a round trip.
    # Escalation says as much about the problem as about the person, so history alone lifts
    # them one level at most: an L2 past makes them at least intermediate, an L3 past
    # (engineers) one level above what their wording says.
    highest = history.highest_tier
    if highest == "L3" and level != "expert":
        level = TECH_LEVELS[TECH_LEVELS.index(level) + 1]
        reason += f"; raised to {level}: a past ticket reached L3"
    elif highest == "L2" and level == "novice":
        level = "intermediate"
        reason += "; raised to intermediate: a past ticket reached L2"
    return level, reason


def remember(history: CustomerHistory, wording: float, tier: Tier) -> CustomerHistory:
    """The history after one more ticket, routed to `tier`; call it once per ticket."""
    tickets = history.tickets + 1
    mean = history.technical_score + (wording - history.technical_score) / tickets
    return CustomerHistory(
        tickets, round(min(1.0, max(0.0, mean)), 4), _higher(history.highest_tier, tier)
    )


def reached(history: CustomerHistory, tier: Tier) -> CustomerHistory:
    """The history after a ticket already remembered is escalated to `tier`."""
    return replace(history, highest_tier=_higher(history.highest_tier, tier))


def combined(first: CustomerHistory, second: CustomerHistory) -> CustomerHistory:
    """One person's history from the histories of two records proved to be them."""
    highest = first.highest_tier
    if second.highest_tier is not None:
        highest = _higher(highest, second.highest_tier)
    tickets = first.tickets + second.tickets
    if tickets == 0:
        return CustomerHistory(0, 0.0, highest)
    weighted = first.technical_score * first.tickets + second.technical_score * second.tickets
    return CustomerHistory(tickets, round(weighted / tickets, 4), highest)


def starting_tier(difficulty: Difficulty, level: TechLevel, rules: TierRules) -> tuple[Tier, str]:
    tier = rules.starting[difficulty][level]
    return tier, f"starts at {tier}: {difficulty} problem, {level} customer"


def next_tier(tier: Tier) -> Tier | None:
    """The tier an escalation goes to; none above L3."""
    position = TIERS.index(tier)
    return TIERS[position + 1] if position + 1 < len(TIERS) else None


def _higher(current: Tier | None, tier: Tier) -> Tier:
    return tier if current is None or TIERS.index(tier) > TIERS.index(current) else current


def _tickets(count: int) -> str:
    return "1 past ticket" if count == 1 else f"{count} past tickets"
