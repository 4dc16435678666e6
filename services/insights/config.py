"""The insights service's rules: `insights.yaml` (surveys, signals' thresholds), `phrases.yaml`
(wording in agents' replies, per language) and `calendars.yaml`; a mistake is a `ConfigError`
naming the file and the field."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator

from services.insights.domain.wording import Phrases
from shared.business_calendar import Calendars, load_calendars
from shared.config import load_yaml
from shared.directory import Directory, load_directory


class SurveyRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    delay: timedelta = Field(default=timedelta(hours=24), ge=timedelta(0))
    link_valid_for: timedelta = Field(default=timedelta(days=14), gt=timedelta(0))
    changeable_for: timedelta = Field(default=timedelta(days=7), ge=timedelta(0))
    channels: frozenset[Literal["email", "chat", "phone"]] = frozenset({"email", "chat"})
    low_score: int = Field(default=2, ge=0, le=5)


class SignalRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    queue_wait: timedelta | None = Field(default=timedelta(minutes=30), gt=timedelta(0))
    reply_wait: timedelta | None = Field(default=timedelta(hours=8), gt=timedelta(0))
    transfers: int | None = Field(default=3, ge=1)
    repeat_contact: bool = True
    over_capacity: timedelta | None = Field(default=timedelta(hours=1), gt=timedelta(0))
    off_shift: timedelta | None = Field(default=timedelta(hours=1), gt=timedelta(0))
    website_only_max_words: int = Field(default=15, ge=1)


class MonthlyReportRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    after_opening: timedelta = Field(default=timedelta(hours=1), ge=timedelta(0))


class InsightsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    surveys: SurveyRules = SurveyRules()
    signals: SignalRules = SignalRules()
    monthly_report: MonthlyReportRules = MonthlyReportRules()


class LanguagePhrases(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    negative: list[str] = Field(default_factory=list)
    website: list[str] = Field(default_factory=list)

    @field_validator("negative", "website")
    @classmethod
    def _not_blank(cls, phrases: list[str]) -> list[str]:
        for phrase in phrases:
            if not phrase.strip().strip("*"):
                raise ValueError("a phrase may not be empty")
        return phrases


class PhrasesFile(RootModel[dict[Literal["en", "fa", "ru", "el"], LanguagePhrases]]):
    pass


@dataclass(frozen=True)
class InsightsRules:
    calendars: Calendars
    surveys: SurveyRules
    signals: SignalRules
    monthly_report: MonthlyReportRules
    phrases: Phrases
    directory: Directory


def load_config(config_dir: Path) -> InsightsRules:
    rules = load_yaml(config_dir / "insights.yaml", InsightsFile)
    phrases = load_yaml(config_dir / "phrases.yaml", PhrasesFile)
    return InsightsRules(
        calendars=load_calendars(config_dir),
        surveys=rules.surveys,
        signals=rules.signals,
        monthly_report=rules.monthly_report,
        phrases=Phrases.of({lang: (p.negative, p.website) for lang, p in phrases.root.items()}),
        directory=load_directory(config_dir),
    )
