"""The organisation directory in `config/teams.yaml`: teams, their managers and agents."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from shared.config import load_yaml


class Person(BaseModel):
    model_config = ConfigDict(frozen=True)

    person_id: str = Field(min_length=1)
    name: str
    email: EmailStr
    language: str = Field(default="en", description="Language notifications are written in.")


class Agent(Person):
    languages: list[str] = Field(default_factory=lambda: ["en"])
    skills: list[str] = Field(default_factory=list)
    capacity: int = Field(default=10, ge=1, description="Open tickets the agent can hold.")


class Team(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1)
    manager: Person
    lead: Person | None = None
    agents: list[Agent] = Field(min_length=1)


class Directory(BaseModel):
    model_config = ConfigDict(frozen=True)

    teams: list[Team] = Field(min_length=1)

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
