"""Intake's operator rules from `config/intake.yaml`: support addresses, threading, phone lines."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.config import load_yaml


class _Rules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MailRules(_Rules):
    max_message_mb: float = Field(default=25, gt=0)
    max_attachment_mb: float = Field(default=10, ge=0)
    max_text_chars: int = Field(default=100_000, ge=1)
    max_recipients: int = Field(
        default=100, ge=1, description="Recipients one SMTP message may name (452 beyond)."
    )


class ThreadingRules(_Rules):
    reopen_window_days: float = Field(default=14, ge=0)

    @property
    def reopen_window(self) -> timedelta:
        return timedelta(days=self.reopen_window_days)


class PhoneLine(_Rules):
    name: str = ""
    region: str = Field(min_length=2, max_length=2)

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown phone region {value!r}")
        return value.upper()


class PhoneRules(_Rules):
    default_region: str = "US"
    lines: dict[str, PhoneLine] = Field(default_factory=dict)
    repeat_call_window_minutes: float = Field(default=120, ge=0)

    @property
    def repeat_call_window(self) -> timedelta:
        return timedelta(minutes=self.repeat_call_window_minutes)

    def region_for(self, line: str | None, region: str | None) -> str:
        """The region a caller's number is read in: the call's own, its line's, or the default."""
        if region:
            return region.upper()
        if line and line in self.lines:
            return self.lines[line].region
        return self.default_region


class RepeatRules(_Rules):
    days: float = Field(default=7, ge=0)
    similarity: float = Field(default=0.3, gt=0, le=1)

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.days)


class IntakeRules(_Rules):
    support_addresses: list[str] = Field(default_factory=list)
    mail: MailRules = MailRules()
    threading: ThreadingRules = ThreadingRules()
    phone: PhoneRules = PhoneRules()
    repeat_contact: RepeatRules = RepeatRules()
    languages: list[str] = Field(default_factory=lambda: ["en", "fa", "ru", "el"], min_length=1)

    @field_validator("support_addresses")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [a.strip().lower() for a in value]


def load_rules(config_dir: Path) -> IntakeRules:
    return load_yaml(config_dir / "intake.yaml", IntakeRules)
