"""Pure routing logic: keyword classification, the priority matrix and least-loaded assignment."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from shared.config import ConfigError
from shared.directory import Agent, Directory, Team
from shared.events.tickets import Priority
from shared.text import terms

Level = Literal["high", "medium", "low"]
LEVELS: tuple[Level, ...] = ("high", "medium", "low")

Phrase = tuple[str, ...]


class Category(BaseModel):
    """Where a ticket of this kind goes, and how much it matters."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    subcategory: str | None = None
    team: str = Field(min_length=1)
    impact: Level
    urgency: Level

    @property
    def label(self) -> str:
        return f"{self.name}/{self.subcategory}" if self.subcategory else self.name


class CategoryRule(Category):
    """A category recognised by keywords, listed per language (en, fa, ru, el)."""

    keywords: dict[str, list[str]] = Field(min_length=1)
    _phrases: dict[Phrase, str] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        # Keywords are folded once, the same way ticket text is, so "Wi-Fi" meets "wifi";
        # each folded phrase remembers the keyword as written, for the reason shown to people.
        for words in self.keywords.values():
            for keyword in words:
                phrase = tuple(terms(keyword))
                if phrase:
                    self._phrases.setdefault(phrase, keyword)

    @property
    def phrases(self) -> dict[Phrase, str]:
        """Folded keyword phrases, each mapped to the keyword as written in the config."""
        return self._phrases


class RoutingRules(BaseModel):
    """`config/routing.yaml`: the categories, the fallback and the impact x urgency matrix."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    categories: list[CategoryRule] = Field(min_length=1)
    default_category: Category
    priority_matrix: dict[Level, dict[Level, Priority]]

    @model_validator(mode="after")
    def _check(self) -> RoutingRules:
        names = [c.name for c in self.categories] + [self.default_category.name]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"categories listed twice: {duplicates}")
        missing = [
            f"impact={impact} urgency={urgency}"
            for impact in LEVELS
            for urgency in LEVELS
            if urgency not in self.priority_matrix.get(impact, {})
        ]
        if missing:
            raise ValueError(f"priority_matrix is incomplete, it lacks {', '.join(missing)}")
        return self


def check_teams(rules: RoutingRules, directory: Directory) -> None:
    """Every category must route to a team that exists in `teams.yaml`."""
    known = [t.name for t in directory.teams]
    unknown = [
        f"category {c.name!r} names team {c.team!r}"
        for c in [*rules.categories, rules.default_category]
        if directory.team(c.team) is None
    ]
    if unknown:
        raise ConfigError(
            f"routing.yaml: {'; '.join(unknown)}, not found in teams.yaml (teams: {known})"
        )


@dataclass(frozen=True)
class Classification:
    category: Category
    matched: tuple[str, ...]
    reason: str


def _hits(words: list[str], vocabulary: set[str], phrases: Iterable[Phrase]) -> list[Phrase]:
    found: list[Phrase] = []
    for phrase in phrases:
        if len(phrase) == 1:
            if phrase[0] in vocabulary:
                found.append(phrase)
        elif any(
            tuple(words[i : i + len(phrase)]) == phrase for i in range(len(words) - len(phrase) + 1)
        ):
            found.append(phrase)
    return found


def classify(subject: str, body: str, rules: RoutingRules) -> Classification:
    """The category whose keywords the ticket hits most; ties go to the one listed first."""
    words = terms(f"{subject}\n{body}")
    vocabulary = set(words)
    best: CategoryRule | None = None
    best_hits: list[Phrase] = []
    for rule in rules.categories:
        hits = _hits(words, vocabulary, rule.phrases)
        if len(hits) > len(best_hits):
            best, best_hits = rule, hits
    if best is None:
        fallback = rules.default_category
        return Classification(
            fallback, (), f"no category keywords matched; default category {fallback.label}"
        )
    matched = tuple(best.phrases[p] for p in best_hits)
    return Classification(best, matched, f"matched keywords {', '.join(matched)} for {best.label}")


def priority_for(
    impact: Level, urgency: Level, matrix: Mapping[Level, Mapping[Level, Priority]]
) -> Priority:
    return matrix[impact][urgency]


def choose_agent(team: Team, open_tickets: Mapping[str, int]) -> Agent | None:
    """The least-loaded agent under capacity; ties go to the one listed first in teams.yaml."""
    candidates = [
        (open_tickets.get(agent.person_id, 0), position, agent)
        for position, agent in enumerate(team.agents)
        if open_tickets.get(agent.person_id, 0) < agent.capacity
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda c: (c[0], c[1]))[2]


def assignment_reason(team: Team, agent: Agent, open_tickets: Mapping[str, int]) -> str:
    load = open_tickets.get(agent.person_id, 0)
    return f"least loaded in {team.name}: {load} of {agent.capacity} open tickets"
