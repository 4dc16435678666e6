"""Agents' load against their capacity, and the backlog, over time: sampled at each hour or day
of a window from what the facts say of who held which ticket open when."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from services.insights.domain.facts import TicketFact
from shared.directory import Directory

Step = Literal["hour", "day"]
STEPS: dict[Step, timedelta] = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
#: The most samples one report takes (a year of days, a month of hours).
MAX_SAMPLES = 800


class LoadPoint(BaseModel):
    at: datetime
    load: dict[str, int] = Field(description="Tickets held open, per channel.")
    total: int
    over: bool = Field(description="More held on some channel than the agent's capacity.")


class AgentLoad(BaseModel):
    agent_id: str
    name: str
    team: str
    capacity: dict[str, int] = Field(description="Tickets the agent can hold per channel.")
    points: list[LoadPoint]


class BacklogPoint(BaseModel):
    at: datetime
    open: int = Field(description="The team's tickets open at that moment.")
    unassigned: int = Field(description="Of those, held by nobody.")


class LoadReport(BaseModel):
    step: Step
    samples: list[datetime]
    agents: list[AgentLoad]
    backlog: dict[str, list[BacklogPoint]] = Field(description="Per team.")


def samples(since: datetime, until: datetime, step: Step) -> list[datetime]:
    every = STEPS[step]
    count = min(MAX_SAMPLES, max(1, int((until - since) / every) + 1))
    return [since + every * n for n in range(count) if since + every * n <= until]


def load_report(
    facts: Iterable[TicketFact],
    *,
    since: datetime,
    until: datetime,
    step: Step,
    directory: Directory,
    teams: frozenset[str] | None,
) -> LoadReport:
    at = samples(since, until, step)
    end = at[-1] + timedelta(microseconds=1)
    held: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * len(at))
    open_: dict[str, list[int]] = defaultdict(lambda: [0] * len(at))
    unassigned: dict[str, list[int]] = defaultdict(lambda: [0] * len(at))

    def count(into: list[int], low: datetime, high: datetime) -> None:
        # Each sample in [low, high) counts the span once.
        for index in range(bisect.bisect_left(at, low), bisect.bisect_left(at, high)):
            into[index] += 1

    for fact in facts:
        channel = fact.channel or "email"
        for holder, low, high in fact.holding_spans(end):
            count(held[(holder, channel)], low, high)
        team_name = fact.team or "(none)"
        for low, high in fact.open_spans(end):
            count(open_[team_name], low, high)
            first = fact.assignments[0].at if fact.assignments else high
            if first > low:
                count(unassigned[team_name], low, min(first, high))

    agents: list[AgentLoad] = []
    for team in directory.teams:
        if teams is not None and team.name not in teams:
            continue
        for agent in team.agents:
            capacity = {str(c): n for c, n in agent.capacity.items()}
            channels = sorted({*capacity, *(c for a, c in held if a == agent.person_id)})
            points = []
            for index, moment in enumerate(at):
                load = {c: held[(agent.person_id, c)][index] for c in channels
                        if (agent.person_id, c) in held}  # fmt: skip
                over = any(n > capacity.get(c, 0) for c, n in load.items())
                points.append(LoadPoint(at=moment, load=load, total=sum(load.values()), over=over))
            agents.append(AgentLoad(agent_id=agent.person_id, name=agent.name, team=team.name,
                                    capacity=capacity, points=points))  # fmt: skip
    backlog = {
        team: [
            BacklogPoint(at=moment, open=open_[team][i], unassigned=unassigned[team][i])
            for i, moment in enumerate(at)
        ]
        for team in sorted(open_)
        if teams is None or team in teams
    }
    return LoadReport(step=step, samples=at, agents=agents, backlog=backlog)


def holding(fact: TicketFact) -> tuple[str, str] | None:
    """(agent, channel) while an agent holds the ticket open now."""
    if fact.holder is None:
        return None
    agent, channel = fact.holder.split("|", 1)
    return agent, channel
