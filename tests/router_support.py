"""Synthetic directories of any size and their shift calendars, for router tests and benchmarks
(the in-memory store is `services/router/store_memory.py`)."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from shared.business_calendar import Calendars, CalendarSpec
from shared.directory import CHANNELS, Agent, Directory, Person, Team
from shared.events.tickets import Channel, Tier

#: Skills each synthetic team's work asks for.
TEAM_SKILLS: dict[str, tuple[str, ...]] = {
    "technical": ("network", "software", "hardware"),
    "accounts": ("billing", "account"),
    "service-desk": ("general", "network", "billing"),
}
LANGUAGES: tuple[str, ...] = ("en", "el", "ru", "fa")
#: Capacity profiles per channel; a channel left out takes no tickets.
CAPACITIES: tuple[dict[Channel, int], ...] = (
    {"email": 10, "chat": 3, "phone": 2},
    {"email": 10, "chat": 3, "phone": 2},
    {"email": 8, "chat": 4},
    {"email": 15, "chat": 2, "phone": 1},
)
TIER_WEIGHTS: dict[Tier, float] = {"L1": 0.5, "L2": 0.3, "L3": 0.2}
#: A shift calendar some synthetic agents work to (UTC office hours, Monday to Friday).
OFFICE = "office"


def shift_calendars() -> Calendars:
    """Round-the-clock by default, and UTC office hours for agents on the `office` shift."""
    hours = ["08:00-16:00"]
    office = CalendarSpec.model_validate(
        {"timezone": "UTC", "week": dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), hours)}
    )
    always = CalendarSpec(timezone="UTC", always_open=True)
    return Calendars(default="24x7", calendars={"24x7": always, OFFICE: office})


def synthetic_directory(
    agents: int,
    teams: Mapping[str, Sequence[str]] = TEAM_SKILLS,
    *,
    seed: int = 1,
    languages: Sequence[str] = LANGUAGES,
    capacities: Sequence[dict[Channel, int]] = CAPACITIES,
    office_share: float = 0.0,
) -> Directory:
    """`agents` agents dealt round the teams, with the team's skills, some languages beside
    English, a capacity profile and a tier; every team has an agent at every tier."""
    rng = random.Random(seed)
    names = list(teams)
    members: dict[str, list[Agent]] = {name: [] for name in names}
    for n in range(agents):
        team = names[n % len(names)]
        forced = len(members[team])
        tier: Tier = (
            ("L1", "L2", "L3")[forced]
            if forced < 3
            else rng.choices(list(TIER_WEIGHTS), list(TIER_WEIGHTS.values()))[0]
        )
        skills = teams[team]
        extra = rng.sample([lang for lang in languages if lang != "en"], rng.randint(0, 2))
        members[team].append(
            Agent(
                person_id=f"ag-{n:05d}",
                name=f"Agent {n}",
                email=f"agent{n}@helpdesk.example",
                tier=tier,
                skills=rng.sample(list(skills), rng.randint(1, len(skills))),
                languages=["en", *extra],
                capacity=dict(rng.choice(list(capacities))),
                shift=OFFICE if rng.random() < office_share else None,
            )
        )
    return Directory(
        teams=[
            Team(
                name=name,
                manager=Person(
                    person_id=f"mgr-{name}",
                    name=f"Manager {name}",
                    email=f"{name}@helpdesk.example",
                ),
                agents=members[name],
            )
            for name in names
        ]
    )


__all__ = ["CHANNELS", "shift_calendars", "synthetic_directory"]
