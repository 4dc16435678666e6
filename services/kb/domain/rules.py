"""The knowledge base's rules as `config/kb/kb.yaml` writes them: search weights, suggestions,
self-help categories and who may publish (`config.py` loads and cross-checks them)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.directory import Directory


class SearchRules(BaseModel):
    model_config = ConfigDict(frozen=True)

    title_boost: float = Field(default=1.5, gt=0, description="Title match weight; body is 1.")
    tags_boost: float = Field(default=1.5, gt=0, description="Tag match weight.")
    fuzzy_max_terms: int = Field(
        default=3, ge=0, description="Queries of at most this many words also match typos."
    )
    fuzzy_weight: float = Field(
        default=0.5, ge=0, le=1, description="A typo match's weight against an exact one."
    )
    snippet_chars: int = Field(default=200, ge=40, le=2000)


class SuggestionRules(BaseModel):
    model_config = ConfigDict(frozen=True)

    limit: int = Field(default=3, ge=1, le=20, description="Articles suggested per ticket.")
    min_score: float = Field(default=0.0, ge=0, description="Weaker matches are not suggested.")


class SelfHelpRules(BaseModel):
    model_config = ConfigDict(frozen=True)

    categories: list[str] = Field(
        default_factory=list,
        description="Categories (`account` or `account/password`) whose customers are offered "
        "the suggestions as self-help.",
    )
    min_score: float = Field(
        default=4.0, ge=0, description="Only articles matching at least this well are offered."
    )

    def covers(self, category: str, subcategory: str | None) -> bool:
        return category in self.categories or f"{category}/{subcategory}" in self.categories


class KbRules(BaseModel):
    model_config = ConfigDict(frozen=True)

    search: SearchRules = SearchRules()
    suggestions: SuggestionRules = SuggestionRules()
    self_help: SelfHelpRules = SelfHelpRules()
    editors: list[str] = Field(
        default_factory=list,
        description="People who may publish and archive, besides every team's lead and manager.",
    )


def may_publish(directory: Directory, editors: list[str], person_id: str) -> bool:
    """Every team's lead and manager may publish, and the configured editors."""
    if person_id in editors:
        return True
    return any(
        person_id in (team.manager.person_id, team.lead.person_id if team.lead else None)
        for team in directory.teams
    )
