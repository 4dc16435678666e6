"""The organisation directory in `config/teams.yaml`: teams, their managers and agents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from shared.config import load_yaml
from shared.events.tickets import Channel, Tier

CHANNELS: tuple[Channel, ...] = ("email", "phone", "chat")


class Person(BaseModel):
    model_config = ConfigDict(frozen=True)

    person_id: str = Field(min_length=1)
    name: str
    email: EmailStr
    language: str = Field(default="en", description="Language notifications are written in.")


class Agent(Person):
    languages: list[str] = Field(default_factory=lambda: ["en"])
    skills: list[str] = Field(default_factory=list)
    tier: Tier = Field(default="L1", description="The support tier the agent works at.")
    capacity: dict[Channel, int] = Field(
        default_factory=lambda: dict.fromkeys(CHANNELS, 10),
        description="Open tickets the agent can hold per channel, e.g. 3 chats and 10 emails; "
        "one number means the same for every channel. A channel left out takes none.",
    )
    shift: str | None = Field(
        default=None,
        description="Calendar (calendars.yaml) of the agent's working hours; "
        "default: the team's shift calendar.",
    )

    @field_validator("capacity", mode="before")
    @classmethod
    def _one_number_for_all(cls, value: Any) -> Any:
        return dict.fromkeys(CHANNELS, value) if isinstance(value, int) else value

    @field_validator("capacity")
    @classmethod
    def _not_negative(cls, value: dict[Channel, int]) -> dict[Channel, int]:
        negative = sorted(channel for channel, n in value.items() if n < 0)
        if negative:
            raise ValueError(f"capacity must not be negative (channels {negative})")
        if not any(value.values()):
            raise ValueError("capacity is zero on every channel")
        return value

    def capacity_for(self, channel: Channel) -> int:
        return self.capacity.get(channel, 0)


class Team(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1)
    department: str | None = Field(default=None, description="Department or product it serves.")
    manager: Person
    lead: Person | None = None
    shift_calendar: str | None = Field(
        default=None,
        description="Calendar (calendars.yaml) of the team's shifts; none: agents work any time "
        "they are online.",
    )
    agents: list[Agent] = Field(min_length=1)


class Directory(BaseModel):
    model_config = ConfigDict(frozen=True)

    teams: list[Team] = Field(min_length=1)
    operators: list[Person] = Field(
        default_factory=list,
        description="People who run the service: they see service-wide reports, the delivery "
        "log and the agent directory, and no ticket.",
    )

    @model_validator(mode="after")
    def _unique_ids(self) -> Directory:
        ids = [a.person_id for t in self.teams for a in t.agents]
        duplicates = {i for i in ids if ids.count(i) > 1}
        if duplicates:
            raise ValueError(f"agents listed twice: {sorted(duplicates)}")
        return self

    def team(self, name: str) -> Team | None:
        return next((t for t in self.teams if t.name == name), None)

    def agent(self, person_id: str) -> Agent | None:
        return next((a for t in self.teams for a in t.agents if a.person_id == person_id), None)

    def team_of(self, person_id: str) -> Team | None:
        return next(
            (t for t in self.teams if any(a.person_id == person_id for a in t.agents)), None
        )


def load_directory(config_dir: Path) -> Directory:
    return load_yaml(config_dir / "teams.yaml", Directory)
