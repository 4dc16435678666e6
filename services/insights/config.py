"""The insights service's rules: the business calendars (`calendars.yaml`) its business times
are reckoned on; a mistake is a `ConfigError` naming the file and the field."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shared.business_calendar import Calendars, load_calendars


@dataclass(frozen=True)
class InsightsRules:
    calendars: Calendars


def load_config(config_dir: Path) -> InsightsRules:
    return InsightsRules(calendars=load_calendars(config_dir))
