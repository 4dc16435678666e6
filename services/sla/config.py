"""The SLA service's rules: `sla.yaml` (policies) and `calendars.yaml`, loaded and checked
against each other, with a version that changes whenever either file does."""

from __future__ import annotations

import hashlib
from pathlib import Path

from services.sla.domain.policies import SlaPolicies, calendars_named
from services.sla.domain.ticket import Rules
from shared.business_calendar import load_calendars
from shared.config import ConfigError, load_yaml

POLICY_FILES = ("sla.yaml", "calendars.yaml")


def config_version(*texts: str) -> str:
    """A short digest of the configuration files: a change means deadlines are recomputed."""
    digest = hashlib.sha256("\x1f".join(texts).encode()).hexdigest()
    return digest[:16]


def load_config(config_dir: Path) -> Rules:
    """Policies and calendars, checked against each other; a `ConfigError` names the file and
    the field of the first mistake."""
    policies_file = config_dir / "sla.yaml"
    policies = load_yaml(policies_file, SlaPolicies)
    calendars = load_calendars(config_dir)
    for field, policy, calendar in calendars_named(policies):
        if calendar not in calendars.names:
            known = ", ".join(sorted(calendars.names))
            raise ConfigError(
                policies_file,
                field,
                f"policy {policy!r} names calendar {calendar!r}, which calendars.yaml does not "
                f"define (known: {known})",
            )
    texts = [(config_dir / name).read_text(encoding="utf-8") for name in POLICY_FILES]
    return Rules(policies=policies, calendars=calendars, version=config_version(*texts))
