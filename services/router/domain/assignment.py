"""Who gets a ticket: a qualified, available agent under capacity; the customer's previous
agent first, then the least loaded, then round robin. Each choice says why in words."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from services.router.domain.rules import AssignmentRules
from services.router.domain.vocabulary import Tier
from shared.directory import Agent
from shared.events import Presence
from shared.events.tickets import Channel


@dataclass(frozen=True)
class AgentState:
    """An agent as the router sees them now: who they are, whether they can work, what they hold."""

    agent: Agent
    team: str
    presence: Presence = "online"
    on_shift: bool = True
    #: Tickets held per channel: a count, the agent's load.
    held: Mapping[Channel, int] = field(default_factory=dict)
    #: Tickets whose slot the agent claimed while the decision is not saved yet (counted in
    #: `held`): a decision made again gives them to this agent again.
    claiming: Mapping[Channel, tuple[str, ...]] = field(default_factory=dict)
    #: Sequence number of their latest assignment; lower means longer ago (round robin).
    last_assigned: int = 0

    @property
    def agent_id(self) -> str:
        return self.agent.person_id

    def load(self, channel: Channel) -> int:
        return self.held.get(channel, 0)

    def capacity(self, channel: Channel) -> int:
        return self.agent.capacity_for(channel)

    def utilisation(self, channel: Channel) -> float:
        capacity = self.capacity(channel)
        return self.load(channel) / capacity if capacity else 1.0

    @property
    def open_total(self) -> int:
        return sum(self.held.values())

    def holds(self, ticket_id: str) -> bool:
        return any(ticket_id in claimed for claimed in self.claiming.values())

    @property
    def available(self) -> bool:
        return self.presence == "online" and self.on_shift

    def with_ticket(self, channel: Channel, ticket_id: str, sequence: int) -> AgentState:
        claimed = self.claiming.get(channel, ())
        if ticket_id in claimed:
            return self
        return replace(
            self,
            held={**self.held, channel: self.load(channel) + 1},
            claiming={**self.claiming, channel: (*claimed, ticket_id)},
            last_assigned=sequence,
        )


@dataclass(frozen=True)
class Needs:
    """What a ticket asks of its agent."""

    ticket_id: str
    channel: Channel
    tier: Tier
    skill: str | None = None
    language: str | None = None
    #: Agents who helped this customer before, most recent first.
    previous_agents: tuple[str, ...] = ()
    #: Agents who must not get it again (they let it time out, or passed it on).
    excluded: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Choice:
    agent_id: str | None
    reason: str


def qualified(needs: Needs, agents: Sequence[AgentState]) -> tuple[list[AgentState], list[str]]:
    """The agents who could work this ticket, and words on any requirement that was dropped.

    A requirement nobody at the tier meets (a skill nobody has, a language nobody speaks) is
    dropped rather than leaving the ticket to wait for an agent who does not exist.
    """
    notes: list[str] = []
    pool = [a for a in agents if a.agent.tier == needs.tier]
    if needs.excluded:
        others = [a for a in pool if a.agent.person_id not in needs.excluded]
        if others or not pool:
            pool = others
        else:
            # Everyone at the tier already let it go: one of them must still take it.
            notes.append("every agent at the tier passed it on before")
    if needs.skill is not None:
        skilled = [a for a in pool if needs.skill in a.agent.skills]
        if skilled:
            pool = skilled
        elif pool:
            notes.append(f"nobody at {needs.tier} has skill {needs.skill}")
    if needs.language is not None:
        speakers = [a for a in pool if needs.language in a.agent.languages]
        if speakers:
            pool = speakers
        elif pool:
            notes.append(f"nobody qualified speaks {needs.language}")
    return pool, notes


def _requirements(needs: Needs, notes: list[str]) -> str:
    asked: list[str] = [needs.tier]
    if needs.skill and not any("skill" in note for note in notes):
        asked.append(f"skill {needs.skill}")
    if needs.language and not any("speaks" in note for note in notes):
        asked.append(f"speaks {needs.language}")
    return ", ".join(asked)


def choose(needs: Needs, agents: Sequence[AgentState], rules: AssignmentRules) -> Choice:
    """The agent for this ticket, or none with the reason nobody could take it."""
    ticket_id, channel = needs.ticket_id, needs.channel
    # A slot claimed before a crash: the same agent again, so a redelivery decides the same.
    # Slots are claimed on the ticket's channel only, so only that channel is looked at.
    for state in agents:
        if ticket_id in state.claiming.get(channel, ()):
            return Choice(state.agent_id, f"already holds the ticket ({state.agent_id})")
    pool, notes = qualified(needs, agents)
    wanted = _requirements(needs, notes)
    dropped = f" ({'; '.join(notes)})" if notes else ""
    free = [a for a in pool if a.available and a.load(channel) < a.capacity(channel)]
    if not free:
        return Choice(None, _why_nobody(pool, channel, wanted) + dropped)
    by_id = {a.agent_id: a for a in free}
    for previous in needs.previous_agents:
        agent = by_id.get(previous)
        if agent and agent.utilisation(channel) < rules.returning_customer_max_utilisation:
            return Choice(
                agent.agent_id,
                f"helped this customer before and has room: {_load(agent, channel)}; "
                f"qualified: {wanted}{dropped}",
            )
    position = {a.agent_id: i for i, a in enumerate(pool)}
    best = min(
        free,
        key=lambda a: (a.utilisation(channel), a.open_total, a.last_assigned, position[a.agent_id]),
    )
    how = (
        f"least loaded of {len(free)} qualified agents free"
        if len(free) > 1
        else "the only qualified agent free"
    )
    return Choice(best.agent_id, f"{how} ({wanted}): {_load(best, channel)}{dropped}")


def _load(agent: AgentState, channel: Channel) -> str:
    return f"{agent.load(channel)} of {agent.capacity(channel)} {channel} tickets"


def _why_nobody(pool: Sequence[AgentState], channel: Channel, wanted: str) -> str:
    if not pool:
        return f"no agent in the team qualifies ({wanted})"
    counts: dict[str, int] = {}
    for agent in pool:
        state: str
        if agent.presence != "online":
            state = agent.presence
        elif not agent.on_shift:
            state = "off shift"
        elif agent.capacity(channel) == 0:
            state = f"taking no {channel}"
        else:
            state = f"at capacity on {channel}"
        counts[state] = counts.get(state, 0) + 1
    states = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    return f"none of {len(pool)} qualified agents free ({wanted}): {states}"


@dataclass(frozen=True)
class Placement:
    ticket_id: str
    choice: Choice
    #: Round-robin stamp of this assignment, one apart from the next, so ties rotate.
    sequence: int


def drain(
    waiting: Sequence[Needs],
    agents: Sequence[AgentState],
    rules: AssignmentRules,
    first_sequence: int,
) -> tuple[list[Placement], list[AgentState]]:
    """Give queued tickets, in queue order, to agents as far as capacity goes.

    A ticket nobody can take now keeps its place; later ones that other agents can take still
    go (a billing question does not wait behind a network one for a network engineer).
    """
    states = list(agents)
    position = {a.agent_id: i for i, a in enumerate(states)}
    placed: list[Placement] = []
    sequence = first_sequence
    for needs in waiting:
        choice = choose(needs, states, rules)
        if choice.agent_id is None:
            continue
        at = position[choice.agent_id]
        states[at] = states[at].with_ticket(needs.channel, needs.ticket_id, sequence)
        placed.append(Placement(needs.ticket_id, choice, sequence))
        sequence += 1
    return placed, states
