"""`make bench-router`: the router's assignment choice at scale, beside a plain least-loaded pick.

Both place the same ticket needs (seeded: team, channel, tier, skill, language, customers who
come back) on the same synthetic agents, in the same run. The router is `choose()` (qualified by
tier, skill and language; the returning customer's agent; least loaded; round robin), each
assignment applied to the agent states as `drain()` does. The baseline takes the agent with
room on the channel holding the fewest open tickets, ignoring qualification. Then `drain()`
itself (a queue being emptied) runs on one team's first tickets, beside the same choices
applied by the loop above. No broker, no database.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from services.router.domain.assignment import AgentState, Needs, choose, drain
from services.router.domain.rules import AssignmentRules
from shared.directory import CHANNELS, Directory
from shared.events.tickets import Channel, Tier
from tests.router_support import synthetic_directory

SKILLS = ("network", "software", "hardware", "billing", "account", "general", "security")
LANGUAGES = ("en", "el", "ru", "fa", "de", "fr")
TIERS: tuple[Tier, ...] = ("L1", "L2", "L3")
RULES = AssignmentRules()


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


@dataclass(frozen=True)
class Ticket:
    team: str
    customer: int
    needs: Needs


def tickets(directory: Directory, count: int, seed: int) -> list[Ticket]:
    rng = random.Random(seed)
    teams = [t.name for t in directory.teams]
    made = []
    for n in range(count):
        needs = Needs(
            ticket_id=f"t-{n}",
            channel=rng.choices(CHANNELS, [0.5, 0.2, 0.3])[0],
            tier=rng.choices(TIERS, [0.6, 0.3, 0.1])[0],
            skill=rng.choice([*SKILLS, None]),
            language=rng.choices(["en", *LANGUAGES[1:]], [0.5, 0.1, 0.1, 0.1, 0.1, 0.1])[0],
        )
        made.append(Ticket(rng.choice(teams), rng.randrange(max(1, count // 3)), needs))
    return made


@dataclass
class Outcome:
    rate: float
    unassigned: int
    open_per_agent: list[int]
    share_per_agent: list[float]


def router(directory: Directory, mix: Sequence[Ticket]) -> Outcome:
    teams = {t.name: [AgentState(agent=a, team=t.name) for a in t.agents] for t in directory.teams}
    slot = {s.agent_id: n for states in teams.values() for n, s in enumerate(states)}
    helped: dict[int, tuple[str, ...]] = {}
    unassigned = 0
    start = time.perf_counter()
    for sequence, ticket in enumerate(mix, start=1):
        needs = ticket.needs
        if ticket.customer in helped:
            needs = replace(needs, previous_agents=helped[ticket.customer])
        states = teams[ticket.team]
        agent_id = choose(needs, states, RULES).agent_id
        if agent_id is None:
            unassigned += 1
            continue
        n = slot[agent_id]
        states[n] = states[n].with_ticket(needs.channel, needs.ticket_id, sequence)
        helped[ticket.customer] = (agent_id, *helped.get(ticket.customer, ())[:4])
    rate = len(mix) / (time.perf_counter() - start)
    everyone = [s for states in teams.values() for s in states]
    return Outcome(
        rate, unassigned, [s.open_total for s in everyone], [_share(s) for s in everyone]
    )


def _share(state: AgentState) -> float:
    room = sum(state.capacity(c) for c in CHANNELS)
    return state.open_total / room if room else 0.0


def least_loaded(directory: Directory, mix: Sequence[Ticket]) -> Outcome:
    """Fewest open tickets among agents with room on the channel; no tiers, skills or history."""
    capacity: dict[str, dict[Channel, list[int]]] = {}
    load: dict[str, dict[Channel, list[int]]] = {}
    total: dict[str, list[int]] = {}
    for team in directory.teams:
        capacity[team.name] = {c: [a.capacity_for(c) for a in team.agents] for c in CHANNELS}
        load[team.name] = {c: [0] * len(team.agents) for c in CHANNELS}
        total[team.name] = [0] * len(team.agents)
    unassigned = 0
    start = time.perf_counter()
    for ticket in mix:
        channel = ticket.needs.channel
        held, room = load[ticket.team][channel], capacity[ticket.team][channel]
        opened = total[ticket.team]
        best = min(
            (i for i in range(len(held)) if held[i] < room[i]),
            key=opened.__getitem__,
            default=None,
        )
        if best is None:
            unassigned += 1
            continue
        held[best] += 1
        opened[best] += 1
    rate = len(mix) / (time.perf_counter() - start)
    opens, shares = [], []
    for team in directory.teams:
        for i, agent in enumerate(team.agents):
            slots = sum(agent.capacity_for(c) for c in CHANNELS)
            opens.append(total[team.name][i])
            shares.append(total[team.name][i] / slots if slots else 0.0)
    return Outcome(rate, unassigned, opens, shares)


def drain_rate(directory: Directory, mix: Sequence[Ticket], count: int) -> tuple[float, float]:
    """Decisions/s of `drain()` over one team's first `count` tickets, and of the same choices
    applied by this benchmark's own loop: they should match."""
    team = directory.teams[0]
    waiting = [t.needs for t in mix if t.team == team.name][:count]
    states = [AgentState(agent=a, team=team.name) for a in team.agents]
    start = time.perf_counter()
    placed, _ = drain(waiting, states, RULES, first_sequence=1)
    drained = len(waiting) / (time.perf_counter() - start)
    slot = {s.agent_id: n for n, s in enumerate(states)}
    start = time.perf_counter()
    for sequence, needs in enumerate(waiting, start=1):
        agent_id = choose(needs, states, RULES).agent_id
        if agent_id is not None:
            n = slot[agent_id]
            states[n] = states[n].with_ticket(needs.channel, needs.ticket_id, sequence)
    in_place = len(waiting) / (time.perf_counter() - start)
    assert len(placed) == sum(s.open_total for s in states)
    return drained, in_place


def gini(values: Sequence[float]) -> float:
    ordered, n = sorted(values), len(values)
    whole = sum(ordered)
    if not whole:
        return 0.0
    return sum((2 * i - n + 1) * v for i, v in enumerate(ordered)) / (n * whole)


def print_table(rows: list[tuple[str, ...]]) -> None:
    header = ("metric", "router choose()", "least loaded", "ratio")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.router", description=__doc__)
    parser.add_argument("--agents", type=int, default=10_000, help="agents in the directory")
    parser.add_argument("--teams", type=int, default=4, help="teams the agents are dealt into")
    parser.add_argument("--needs", type=int, default=20_000, help="tickets to place")
    parser.add_argument("--drain", type=int, default=2_000, help="tickets for the drain() run")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    teams = {f"team-{n}": SKILLS for n in range(args.teams)}
    directory = synthetic_directory(args.agents, teams, seed=args.seed, languages=LANGUAGES)
    mix = tickets(directory, args.needs, args.seed)
    size = args.agents // args.teams
    say(f"{args.agents} agents in {args.teams} teams (~{size} each), {len(mix)} tickets")
    base = least_loaded(directory, mix)
    say("least loaded done")
    real = router(directory, mix)
    say("router choose() done")
    drained, in_place = drain_rate(directory, mix, args.drain)
    say(f"drain() over {args.drain} queued tickets of one team done")

    def row(name: str, ours: float, theirs: float, fmt: str) -> tuple[str, ...]:
        ratio = f"{ours / theirs:.2f}x" if theirs else "-"
        return (name, format(ours, fmt), format(theirs, fmt), ratio)

    def spread(name: str, pick: str) -> list[tuple[str, ...]]:
        ours, theirs = getattr(real, pick), getattr(base, pick)
        fmt = ".3f" if pick == "share_per_agent" else ".2f"
        cv = [statistics.pstdev(v) / statistics.fmean(v) for v in (ours, theirs)]
        return [
            row(f"{name} min", min(ours), min(theirs), fmt),
            row(f"{name} mean", statistics.fmean(ours), statistics.fmean(theirs), fmt),
            row(f"{name} max", max(ours), max(theirs), fmt),
            row(f"{name} stddev", statistics.pstdev(ours), statistics.pstdev(theirs), fmt),
            row(f"{name} coeff. of variation", cv[0], cv[1], ".3f"),
            row(f"{name} gini", gini(ours), gini(theirs), ".3f"),
        ]

    print_table(
        [
            row("decisions/second", real.rate, base.rate, ",.0f"),
            row("left unassigned", real.unassigned, base.unassigned, ",.0f"),
            ("drain() decisions/s", format(drained, ",.0f"), "", ""),
            ("same choices applied in place", format(in_place, ",.0f"), "", ""),
            *spread("open tickets per agent", "open_per_agent"),
            *spread("utilisation per agent", "share_per_agent"),
        ]
    )
    say(
        f"choose() decides at {real.rate / base.rate:.0%} of the plain least-loaded rate; "
        f"drain() runs at {drained / in_place:.0%} of the benchmark's own loop"
    )


if __name__ == "__main__":
    main()
