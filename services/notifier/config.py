"""The notifier's rules: `config/notifier.yaml` loaded and cross-checked against the directory
and the calendars, and the message catalogs of its emails. Every mistake is a `ConfigError`
naming the file and the field."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import TypeAdapter, ValidationError

from services.notifier.domain.ladders import METRICS, NotifierConfig, Rules
from services.notifier.domain.wording import FALLBACK_LANGUAGE, LANGUAGES, placeholders
from shared.business_calendar import Calendars, load_calendars
from shared.config import ConfigError, load_yaml
from shared.directory import Directory, load_directory

FILE = "notifier.yaml"
_PACKAGE = "services.notifier"
_CATALOG = TypeAdapter(dict[str, str])


def load_config(config_dir: Path, *, directory: Directory | None = None) -> Rules:
    """The notifier's rules from `config_dir`, checked against the directory (the one given,
    else `teams.yaml`) and the calendars; the message catalogs are checked too."""
    directory = directory or load_directory(config_dir)
    calendars = load_calendars(config_dir)
    ladders = load_notifier_config(config_dir)
    check_against(ladders, directory, calendars=calendars, file=config_dir / FILE)
    for language in LANGUAGES:
        catalog(language)
    return Rules(ladders=ladders, directory=directory, calendars=calendars)


def load_notifier_config(config_dir: Path) -> NotifierConfig:
    """`config_dir/notifier.yaml`, validated (a mistake names the field and what was written)."""
    return load_yaml(config_dir / FILE, NotifierConfig)


def check_against(
    config: NotifierConfig,
    directory: Directory,
    *,
    calendars: Calendars | None = None,
    warning_levels: Iterable[int] | None = None,
    file: Path | str = FILE,
) -> None:
    """Raise a ConfigError naming every team, person, calendar or warning level (of
    config/sla.yaml's `warning_levels`) the config names in vain; its field is the first's."""
    problems: list[tuple[str, str]] = []
    teams = {team.name for team in directory.teams}
    if unknown := sorted(set(config.on_call) - teams - {"*"}):
        problems.append(("on_call", f"on_call names teams not in the directory: {unknown}"))
    if "on_call" in config.roles_used() and "*" not in config.on_call:
        if uncovered := sorted(teams - set(config.on_call)):
            problems.append(
                ("on_call", f"on_call has nobody for teams {uncovered} and no '*' default")
            )
    people = {p.person_id for t in directory.teams for p in (t.manager, t.lead, *t.agents) if p}
    people |= {p.person_id for p in config.on_call.values()}
    if unknown := sorted(set(config.working_hours.people) - people):
        problems.append(
            (
                "working_hours.people",
                f"working_hours names people not in the directory: {unknown}",
            )
        )
    if calendars is not None:
        named = {config.working_hours.default_calendar, *config.working_hours.people.values()}
        named |= {t.shift_calendar for t in directory.teams}
        named |= {a.shift for t in directory.teams for a in t.agents}
        if unknown := sorted(n for n in named if n is not None and n not in calendars.names):
            problems.append(("working_hours", f"calendars not in calendars.yaml: {unknown}"))
    if warning_levels is not None:
        steps = {s.at_percent for m in METRICS for s in config.ladder(m).warnings}
        if unheard := sorted(steps - set(warning_levels)):
            problems.append(
                ("ladders", f"warning steps at levels the SLA service never emits: {unheard}")
            )
    if problems:
        raise ConfigError(file, problems[0][0], "; ".join(problem for _, problem in problems))


# -- message catalogs ------------------------------------------------------------------------


def _catalog_file(language: str) -> str:
    return f"messages/{language}.yaml"


def read_catalog(language: str) -> dict[str, str]:
    """One catalog as written: a mapping of message keys to text, nothing else."""
    source = resources.files(_PACKAGE) / "templates" / "messages" / f"{language}.yaml"
    try:
        return _CATALOG.validate_python(yaml.safe_load(source.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(_catalog_file(language), None, str(exc)) from exc


@cache
def catalog(language: str) -> Mapping[str, str]:
    """A language's messages, checked against English.

    A translation may not add keys nor change a message's placeholders (either would fail
    at send time). A key it lacks is filled from English so mail still goes out; the unit
    tests insist that no catalog lacks any.
    """
    english = read_catalog(FALLBACK_LANGUAGE)
    own = english if language == FALLBACK_LANGUAGE else read_catalog(language)
    file = _catalog_file(language)
    for key, text in own.items():
        if key not in english:
            raise ConfigError(file, key, "unknown key")
        if placeholders(text) != placeholders(english[key]):
            raise ConfigError(file, key, "other placeholders than in English")
    merged = english | own
    if merged["direction"] not in {"ltr", "rtl"}:
        raise ConfigError(file, "direction", "should be 'ltr' or 'rtl'")
    if len(merged["digits"]) != 10:
        raise ConfigError(file, "digits", "should be the ten digits 0 to 9")
    if len(merged["decimal_separator"]) != 1:
        raise ConfigError(file, "decimal_separator", "should be one character")
    if len([name for name in merged["months"].split(",") if name.strip()]) != 12:
        raise ConfigError(file, "months", "should name the twelve months, separated by commas")
    return merged
