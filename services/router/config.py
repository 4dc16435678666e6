"""The router's rules, loaded and cross-checked at start: routing.yaml, categories.yaml,
triage.yaml, teams.yaml, calendars.yaml and the classifier's labelled examples."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from services.router.domain.categories import CategoryTree
from services.router.domain.rules import RoutingRules
from services.router.domain.triage import TriageRules
from services.router.domain.vocabulary import TIERS
from shared.business_calendar import Calendars, load_calendars
from shared.config import ConfigError, load_yaml
from shared.directory import Directory, load_directory
from shared.logging import get_logger
from shared.text import terms

log = get_logger(__name__)

ROUTING = "routing.yaml"
CATEGORIES = "categories.yaml"
TRIAGE = "triage.yaml"
TEAMS = "teams.yaml"


@dataclass(frozen=True)
class Example:
    """One labelled example ticket the classifier learns from."""

    label: str
    text: str
    language: str


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str = Field(min_length=1)
    text: str = Field(min_length=1)


class _ExampleFile(BaseModel):
    """One `config/routing-examples/<language>.yaml`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    language: str = Field(pattern=r"^[a-z]{2,3}$")
    examples: list[_Entry] = Field(min_length=1)


@dataclass(frozen=True)
class RouterConfig:
    """Every rule the router works to, checked against each other."""

    rules: RoutingRules
    tree: CategoryTree
    triage: TriageRules
    directory: Directory
    calendars: Calendars
    examples: tuple[Example, ...]


def load_config(
    config_dir: Path,
    *,
    rules: RoutingRules | None = None,
    tree: CategoryTree | None = None,
    triage: TriageRules | None = None,
    directory: Directory | None = None,
    calendars: Calendars | None = None,
) -> RouterConfig:
    """The rules under `config_dir` (any given here replaces its file), cross-checked; a
    `ConfigError` names the file and field of the first mistake."""
    rules = rules or load_yaml(config_dir / ROUTING, RoutingRules)
    tree = tree or load_yaml(config_dir / CATEGORIES, CategoryTree)
    triage = triage or load_triage(config_dir)
    directory = directory or load_directory(config_dir)
    calendars = calendars or load_calendars(config_dir)
    check_teams(tree, [t.name for t in directory.teams])
    check_rules(rules, directory, calendars.names, set(tree.teams))
    examples = load_examples(config_dir / tree.classification.examples_dir, tree.labels)
    return RouterConfig(rules, tree, triage, directory, calendars, tuple(examples))


def load_triage(config_dir: Path) -> TriageRules:
    """The validated rules of triage.yaml; a `ConfigError` says what is wrong."""
    return load_yaml(config_dir / TRIAGE, TriageRules)


def check_teams(tree: CategoryTree, known_teams: Iterable[str]) -> None:
    """Every team the tree routes to must exist in teams.yaml."""
    known = set(known_teams)
    unknown = sorted(tree.teams - known)
    if not unknown:
        return
    field = "uncategorised.team"
    for n, category in enumerate(tree.categories):
        subs = [
            f"categories.{n}.subcategories.{m}.team"
            for m, sub in enumerate(category.subcategories)
            if sub.team in unknown
        ]
        if category.team in unknown:
            field = f"categories.{n}.team"
            break
        if subs:
            field = subs[0]
            break
    raise ConfigError(
        CATEGORIES, field, f"names teams {unknown} not found in {TEAMS} (teams: {sorted(known)})"
    )


def check_rules(
    rules: RoutingRules,
    directory: Directory,
    calendars: Iterable[str],
    teams_routed_to: Iterable[str],
) -> None:
    """Stop the service at start when a rule names a team or calendar that does not exist, or
    a team that receives tickets could hold one at a tier nobody can work. The error names the
    first mistake's file and field and lists the others."""
    known_calendars = set(calendars)
    problems: list[tuple[str, str, str]] = []
    for team_name in rules.queues.teams:
        if directory.team(team_name) is None:
            problems.append(
                (ROUTING, f"queues.teams.{team_name}", f"names team {team_name!r}, not in {TEAMS}")
            )
    for tier, team_name in rules.escalation.teams_for_tier.items():
        if directory.team(team_name) is None:
            problems.append(
                (
                    ROUTING,
                    f"escalation.teams_for_tier.{tier}",
                    f"names team {team_name!r}, not in {TEAMS}",
                )
            )
    for t, team in enumerate(directory.teams):
        shifts = [(f"teams.{t}.shift_calendar", f"team {team.name}", team.shift_calendar)]
        shifts += [
            (f"teams.{t}.agents.{a}.shift", f"agent {agent.person_id}", agent.shift)
            for a, agent in enumerate(team.agents)
        ]
        problems += [
            (TEAMS, field, f"{who} has shift calendar {name!r}, not in calendars.yaml")
            for field, who, name in shifts
            if name is not None and name not in known_calendars
        ]
    for team_name in sorted(teams_routed_to):
        if directory.team(team_name) is None:
            problems.append(
                (CATEGORIES, "categories", f"routes to team {team_name!r}, not in {TEAMS}")
            )
            continue
        for tier in TIERS:
            target = directory.team(rules.team_for_tier(directory, team_name, tier))
            if target is None or not any(a.tier == tier for a in target.agents):
                problems.append(
                    (
                        ROUTING,
                        f"escalation.teams_for_tier.{tier}",
                        f"team {team_name!r} has no {tier} agent and none is named for {tier}",
                    )
                )
    if problems:
        file, field, problem = problems[0]
        others = "; ".join(f"{f}: {fld}: {p}" for f, fld, p in problems[1:])
        raise ConfigError(file, field, problem + (f" (also {others})" if others else ""))


def load_examples(directory: Path, labels: Collection[str] | None = None) -> list[Example]:
    """Every example in the directory's `*.yaml` files, in file order; repeats are dropped."""
    if not directory.is_dir():
        raise ConfigError(directory, None, "examples directory not found")
    paths = sorted(directory.glob("*.yaml"))
    if not paths:
        raise ConfigError(directory, None, "no example files (*.yaml)")
    examples: list[Example] = []
    seen: set[tuple[str, str, str]] = set()
    for path in paths:
        file = load_yaml(path, _ExampleFile)
        if file.language != path.stem:
            raise ConfigError(
                path, "language", f"says {file.language!r}, its name says {path.stem!r}"
            )
        if labels is not None:
            for n, entry in enumerate(file.examples):
                if entry.label not in labels:
                    unknown = sorted({e.label for e in file.examples} - set(labels))
                    raise ConfigError(
                        path,
                        f"examples.{n}.label",
                        f"labels not in {CATEGORIES}: {', '.join(unknown)}",
                    )
        for entry in file.examples:
            # Repeats are told apart as the classifier sees text (`classifier.prepare`).
            key = (file.language, entry.label, " ".join(terms(entry.text)))
            if key in seen:
                log.warning("example_repeated", path=str(path), label=entry.label, text=entry.text)
                continue
            seen.add(key)
            examples.append(Example(entry.label, entry.text, file.language))
    return examples
