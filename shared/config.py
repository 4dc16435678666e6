"""Loading operators' business rules from validated YAML files under `config/`.

Every mistake is a `ConfigError` naming the file and the field, so an operator who changed a
rule sees at start exactly what to fix: `config/teams.yaml: teams.0.agents.2.tier: Input
should be 'L1', 'L2' or 'L3'`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(Exception):
    """A config file is missing or wrong; `file` and `field` say where, the message why."""

    def __init__(self, file: Path | str, field: str | None, problem: str) -> None:
        self.file = str(file)
        self.field = field
        self.problem = problem
        where = f"{self.file}: {field}" if field else self.file
        super().__init__(f"{where}: {problem}")


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def load_yaml(path: Path, model: type[M]) -> M:
    """The file validated as `model`; a `ConfigError` for the first field that is wrong (the
    message lists every wrong field)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(path, None, "file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(path, None, f"not valid YAML: {exc}") from exc
    try:
        return model.model_validate(raw or {})
    except ValidationError as exc:
        errors = exc.errors()
        problems = "; ".join(f"{_field(e['loc'])}: {_said(e)}" for e in errors[1:6])
        first = errors[0]
        problem = _said(first) + (f" (also {problems})" if problems else "")
        raise ConfigError(path, _field(first["loc"]), problem) from exc


def _said(error: Any) -> str:
    """The problem, with what was written when it is a plain value an operator can find."""
    written = error.get("input")
    if isinstance(written, str | int | float | bool) and len(repr(written)) <= 80:
        return f"{error['msg']} (written: {written!r})"
    return str(error["msg"])
