"""The category tree of `config/categories.yaml`, and classification that combines the text
model's scores with keyword and pattern rules by noisy-OR."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from services.router.domain.keywords import LANGUAGES, KeywordRules, Language, TicketText
from services.router.domain.vocabulary import Difficulty, Level

__all__ = ["UNCATEGORISED", "CategoryTree", "Classification", "Leaf", "classify"]

UNCATEGORISED = "uncategorised"
_NAME = r"^[a-z0-9][a-z0-9-]*$"


class Item(KeywordRules):
    """The thing affected (a router, a printer), found by its own keywords."""

    name: str = Field(pattern=_NAME)


class Subcategory(KeywordRules):
    name: str = Field(pattern=_NAME)
    #: Override the category's team or skill for this kind of problem only.
    team: str | None = None
    skill: str | None = None
    difficulty: Difficulty
    impact: Level
    urgency: Level
    items: list[Item] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_items(self) -> Subcategory:
        _no_duplicates(f"items of {self.name}", [i.name for i in self.items])
        return self


class Category(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=_NAME)
    team: str = Field(min_length=1)
    skill: str | None = None
    subcategories: list[Subcategory] = Field(min_length=1)


class ClassificationSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Below this combined confidence a ticket is uncategorised and goes to L1 triage.
    threshold: float = Field(ge=0, le=1)
    #: What one keyword or pattern hit is worth on its own; hits combine by noisy-OR.
    rule_hit_weight: float = Field(gt=0, lt=1)
    #: The labelled example tickets the model learns from, relative to the config directory.
    examples_dir: str = Field(default="routing-examples", min_length=1)


class Uncategorised(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    team: str = Field(min_length=1)
    skill: str | None = None
    difficulty: Difficulty
    impact: Level
    urgency: Level


@dataclass(frozen=True)
class Leaf:
    """A subcategory, with what it inherits from its category resolved."""

    label: str
    category: Category
    subcategory: Subcategory

    @property
    def team(self) -> str:
        return self.subcategory.team or self.category.team

    @property
    def skill(self) -> str | None:
        return self.subcategory.skill or self.category.skill


class CategoryTree(BaseModel):
    """The whole of `config/categories.yaml`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    classification: ClassificationSettings
    uncategorised: Uncategorised
    categories: list[Category] = Field(min_length=1)
    _leaves: dict[str, Leaf] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _unique_names(self) -> CategoryTree:
        _no_duplicates("categories", [c.name for c in self.categories])
        for category in self.categories:
            names = [s.name for s in category.subcategories]
            _no_duplicates(f"subcategories of {category.name}", names)
        if any(c.name == UNCATEGORISED for c in self.categories):
            raise ValueError(f"{UNCATEGORISED!r} is reserved for tickets no category fits")
        return self

    def model_post_init(self, context: Any, /) -> None:
        for category in self.categories:
            for sub in category.subcategories:
                label = f"{category.name}/{sub.name}"
                self._leaves[label] = Leaf(label, category, sub)

    @property
    def labels(self) -> tuple[str, ...]:
        """Every `category/subcategory`, in the order of the file."""
        return tuple(self._leaves)

    @property
    def leaves(self) -> tuple[Leaf, ...]:
        return tuple(self._leaves.values())

    def leaf(self, label: str) -> Leaf | None:
        return self._leaves.get(label)

    @property
    def teams(self) -> frozenset[str]:
        """Every team this tree can route a ticket to."""
        return frozenset([self.uncategorised.team, *(leaf.team for leaf in self.leaves)])


def _no_duplicates(what: str, names: list[str]) -> None:
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{what} listed twice: {', '.join(duplicates)}")


@dataclass(frozen=True)
class Classification:
    category: str | None
    subcategory: str | None
    item: str | None
    team: str
    skill: str | None
    difficulty: Difficulty
    impact: Level
    urgency: Level
    confidence: float
    reason: str

    @property
    def label(self) -> str:
        if self.category is None:
            return UNCATEGORISED
        return f"{self.category}/{self.subcategory}"


@dataclass(frozen=True)
class _Candidate:
    leaf: Leaf
    model: float | None
    keywords: tuple[str, ...]
    confidence: float

    def evidence(self) -> str:
        model = "no model score" if self.model is None else f"model {self.model:.2f}"
        keywords = f"keywords {', '.join(self.keywords)}" if self.keywords else "no keywords"
        return f"{model} and {keywords}"


def _search_order(language: str | None) -> tuple[Language, ...]:
    # Every language's keywords are searched, whatever the ticket's language: the four use four
    # scripts, so a keyword from another list only matches where the customer wrote it, and they
    # do mix in English tech words (a Persian ticket about "VPN" or "Wi-Fi"). The ticket's own
    # language goes first only so that the reason cites its words.
    return tuple(sorted(LANGUAGES, key=lambda candidate: candidate != language))


def classify(
    text: str, language: str | None, tree: CategoryTree, model_scores: Mapping[str, float]
) -> Classification:
    """The leaf with the highest combined confidence, or uncategorised below the threshold.

    Each keyword or pattern hit is independent evidence worth `rule_hit_weight`, and the rules
    and the model are combined by noisy-OR: p_rules = 1 - (1 - w)^hits, then
    combined = 1 - (1 - p_model)(1 - p_rules). With w = 0.5, two hits alone give 0.75, and a
    model at 0.30 with one hit gives 0.65. Model scores for labels not in the tree are ignored;
    ties go to the label listed first.
    """
    ticket = TicketText(text)
    order = _search_order(language)
    weight = tree.classification.rule_hit_weight
    candidates: list[_Candidate] = []
    for leaf in tree.leaves:
        found = leaf.subcategory.evidence(ticket, order)
        for affected in leaf.subcategory.items:
            for key, shown in affected.evidence(ticket, order).items():
                found.setdefault(key, shown)
        model = model_scores.get(leaf.label)
        p_model = min(1.0, max(0.0, model or 0.0))
        p_rules = 1.0 - (1.0 - weight) ** len(found)
        confidence = 1.0 - (1.0 - p_model) * (1.0 - p_rules)
        candidates.append(_Candidate(leaf, model, tuple(found.values()), confidence))
    best = max(candidates, key=lambda candidate: candidate.confidence)
    threshold = tree.classification.threshold
    if best.confidence < threshold or best.confidence == 0.0:
        return _uncategorised(tree, best, threshold)
    leaf = best.leaf
    item = _item(leaf.subcategory, ticket, order)
    item_note = f" (item {item})" if item else ""
    return Classification(
        category=leaf.category.name,
        subcategory=leaf.subcategory.name,
        item=item,
        team=leaf.team,
        skill=leaf.skill,
        difficulty=leaf.subcategory.difficulty,
        impact=leaf.subcategory.impact,
        urgency=leaf.subcategory.urgency,
        confidence=best.confidence,
        reason=f"{best.evidence()} for {leaf.label}{item_note}: confidence {best.confidence:.2f}",
    )


def _item(sub: Subcategory, ticket: TicketText, order: tuple[Language, ...]) -> str | None:
    """The item with the most hits; ties go to the one listed first."""
    hits = [(len(item.evidence(ticket, order)), item.name) for item in sub.items]
    count, name = max(hits, key=lambda hit: hit[0], default=(0, None))
    return name if count else None


def _uncategorised(tree: CategoryTree, best: _Candidate, threshold: float) -> Classification:
    if best.confidence == 0.0:
        reason = "uncategorised: no model score or keyword points to any category"
    else:
        reason = (
            f"uncategorised: best guess {best.leaf.label} at {best.confidence:.2f} "
            f"({best.evidence()}) is below the threshold {threshold:.2f}"
        )
    fallback = tree.uncategorised
    return Classification(
        category=None,
        subcategory=None,
        item=None,
        team=fallback.team,
        skill=fallback.skill,
        difficulty=fallback.difficulty,
        impact=fallback.impact,
        urgency=fallback.urgency,
        confidence=best.confidence,
        reason=reason,
    )
