"""Loads and cross-checks the knowledge base's files under `config/`: its rules (`kb/kb.yaml`),
the articles and canned responses it is seeded with, against the category tree and the people
of `teams.yaml`. Every mistake is a `ConfigError` naming the file and the field."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field

from services.kb.domain.articles import Article, ArticleFile
from services.kb.domain.canned import CannedFile, CannedResponse
from services.kb.domain.rules import KbRules
from services.kb.search import Tuning
from shared.config import ConfigError, load_yaml
from shared.directory import Directory, load_directory


class _Subcategory(BaseModel):
    name: str


class _Category(BaseModel):
    name: str
    subcategories: list[_Subcategory] = Field(default_factory=list)


class _Tree(BaseModel):
    """What the knowledge base reads of `categories.yaml`: the names, nothing of routing."""

    categories: list[_Category]


@dataclass(frozen=True)
class KbConfig:
    """Everything the knowledge base is configured with, checked."""

    rules: KbRules
    tuning: Tuning
    articles: tuple[Article, ...]
    canned: tuple[CannedResponse, ...]
    directory: Directory


def load_config(config_dir: Path) -> KbConfig:
    """The knowledge base's configuration in `config_dir`, or a `ConfigError` for its first
    mistake."""
    kb_dir = config_dir / "kb"
    rules_file, articles_file, canned_file = (
        kb_dir / "kb.yaml",
        kb_dir / "articles.yaml",
        kb_dir / "canned.yaml",
    )
    rules = load_yaml(rules_file, KbRules)
    articles = load_yaml(articles_file, ArticleFile).articles
    canned = load_yaml(canned_file, CannedFile).canned
    tree = load_yaml(config_dir / "categories.yaml", _Tree)
    directory = load_directory(config_dir)

    categories = {c.name for c in tree.categories}
    labels = categories | {f"{c.name}/{s.name}" for c in tree.categories for s in c.subcategories}
    for i, label in enumerate(rules.self_help.categories):
        if label not in labels:
            raise ConfigError(
                rules_file,
                f"self_help.categories.{i}",
                f"{label!r} is no category or category/subcategory of categories.yaml",
            )
    people = _people(directory)
    for i, person_id in enumerate(rules.editors):
        if person_id not in people:
            raise ConfigError(rules_file, f"editors.{i}", f"{person_id!r} is not in teams.yaml")
    for file, key, id_field, entries in (
        (articles_file, "articles", "article_id", [(a.article_id, a.category) for a in articles]),
        (canned_file, "canned", "canned_id", [(c.canned_id, c.category) for c in canned]),
    ):
        _check_seed(file, key, id_field, entries, categories)
    return KbConfig(
        rules=rules,
        tuning=Tuning(**rules.search.model_dump()),
        articles=tuple(articles),
        canned=tuple(canned),
        directory=directory,
    )


def _check_seed(
    file: Path,
    key: str,
    id_field: str,
    entries: list[tuple[str, str | None]],
    categories: set[str],
) -> None:
    """Each entry's id once, and its category one of the tree's."""
    seen: set[str] = set()
    for i, (entry_id, category) in enumerate(entries):
        if entry_id in seen:
            raise ConfigError(file, f"{key}.{i}.{id_field}", f"{entry_id!r} is listed twice")
        seen.add(entry_id)
        if category is not None and category not in categories:
            raise ConfigError(
                file, f"{key}.{i}.category", f"{category!r} is not a category of categories.yaml"
            )


def _people(directory: Directory) -> set[str]:
    people: set[str] = set()
    for team in directory.teams:
        people.add(team.manager.person_id)
        if team.lead:
            people.add(team.lead.person_id)
        people.update(agent.person_id for agent in team.agents)
    return people
