"""Thousands of tickets through the router's Desk in bursts, with resolutions and agents coming
and going between them; every claim, decision and drain is checked against the rules as it
happens, and the whole store after every burst. Then choose()/drain() edge cases, pinned."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.router.decisions import Cause
from services.router.dispatch import DRAIN_BATCH, Dispatcher
from services.router.domain.assignment import AgentState, Needs, choose, drain
from services.router.domain.rules import AssignmentRules, QueueRules, RoutingRules
from services.router.domain.slots import SlotChange
from services.router.domain.tickets import QUEUE_SORT, RoutedTicket
from services.router.store import RoutingStore
from services.router.store_memory import MemoryRoutingStore
from services.router.triaging import PREVIOUS_AGENTS_KEPT
from shared.business_calendar import Calendars
from shared.clock import FakeClock
from shared.directory import CHANNELS, Agent, Directory, Team
from shared.events import Event, QueueOrder, TicketAssigned, TicketQueued
from shared.events.tickets import Tier
from shared.mongo import Document
from tests.router_support import TEAM_SKILLS, shift_calendars, synthetic_directory

#: A Monday before the office shift opens; forty bursts later it has closed again.
START = datetime(2026, 1, 5, 5, 0, tzinfo=UTC)
TICKET_LANGUAGES = {"en": 0.55, "el": 0.14, "ru": 0.12, "fa": 0.14, "pt": 0.05}  # pt: nobody


@dataclass(frozen=True)
class Verdict:
    """What the rules allow for a ticket at one moment, worked out apart from `choose`."""

    qualified: frozenset[str]
    free: frozenset[str]
    allowed: frozenset[str]
    rule: str


def verdict(
    ticket: RoutedTicket,
    team: Team,
    records: dict[str, Document],
    previous: Sequence[str],
    available: dict[str, bool],
    rules: AssignmentRules,
) -> Verdict:
    pool = [a for a in team.agents if a.tier == ticket.tier]
    pool = [a for a in pool if a.person_id not in ticket.excluded] or pool
    if ticket.skill and any(ticket.skill in a.skills for a in pool):
        pool = [a for a in pool if ticket.skill in a.skills]
    if ticket.language and any(ticket.language in a.languages for a in pool):
        pool = [a for a in pool if ticket.language in a.languages]
    held = {a.person_id: records.get(a.person_id, {}).get("load", {}) for a in pool}

    def share(agent: Agent) -> float:
        return held[agent.person_id].get(ticket.channel, 0) / agent.capacity_for(ticket.channel)

    free = [
        a
        for a in pool
        if available[a.person_id]
        and held[a.person_id].get(ticket.channel, 0) < a.capacity_for(ticket.channel)
    ]
    qualified = frozenset(a.person_id for a in pool)
    ids = frozenset(a.person_id for a in free)
    for agent_id in previous:
        agent = next((a for a in free if a.person_id == agent_id), None)
        if agent and share(agent) < rules.returning_customer_max_utilisation:
            return Verdict(qualified, ids, frozenset({agent_id}), "returning customer")

    def key(agent: Agent) -> tuple[float, int, int]:
        record = records.get(agent.person_id, {})
        total = sum(held[agent.person_id].values())
        return share(agent), total, int(record.get("last_assigned", 0))

    best = min((key(a) for a in free), default=None)
    return Verdict(qualified, ids, frozenset(a.person_id for a in free if key(a) == best), "least")


def in_flight(record: Document, ticket_id: str) -> bool:
    """The agent has a slot change in flight for the ticket (claimed, not saved yet)."""
    return any(s["k"].startswith(f"{ticket_id}|") for s in record.get("slots", ()))


@dataclass
class Simulation:
    desk: Dispatcher
    order: QueueOrder
    rng: random.Random
    clock: FakeClock
    events: list[Event] = field(default_factory=list)
    assigned: dict[str, list[TicketAssigned]] = field(default_factory=lambda: defaultdict(list))
    queued: dict[str, list[TicketQueued]] = field(default_factory=lambda: defaultdict(list))
    counts: Counter[str] = field(default_factory=Counter)
    ticket_ids: list[str] = field(default_factory=list)
    states: Counter[str] = field(default_factory=Counter)

    @classmethod
    def build(cls, store: RoutingStore, order: QueueOrder, *, agents: int, seed: int) -> Simulation:
        directory = synthetic_directory(agents, seed=seed, office_share=0.3)
        rules = RoutingRules(queues=QueueRules(default_order=order))
        clock = FakeClock(START)
        calendars = shift_calendars()
        desk = Dispatcher(
            rules=rules, directory=directory, calendars=calendars, store=store, clock=clock
        )
        simulation = cls(desk, order, random.Random(seed), clock)
        change_slots = store.change_slots

        async def audited(changes: Sequence[SlotChange]) -> set[str]:
            # One at a time, so each claim is checked against the loads the ones before took.
            applied: set[str] = set()
            for change in changes:
                if change.delta > 0:
                    await simulation.check_claim(change.agent_id, change.ticket_id, change.capacity)
                applied |= await change_slots([change])
            return applied

        setattr(store, "change_slots", audited)  # noqa: B010 - every claim is checked first
        return simulation

    async def send(self, events: Sequence[Event]) -> None:
        """The outbox the dispatcher publishes to."""
        for event in events:
            await self.published(event)

    # -- what the world does -----------------------------------------------------------------

    @property
    def store(self) -> RoutingStore:
        return self.desk.store

    @property
    def directory(self) -> Directory:
        return self.desk.directory

    @property
    def calendars(self) -> Calendars:
        return self.desk.calendars

    def tickets(self, count: int) -> list[RoutedTicket]:
        """Seeded tickets; a quarter as many customers, each mostly in one team and tier."""
        rng, teams = self.rng, [t.name for t in self.directory.teams]
        langs = list(TICKET_LANGUAGES)
        customers = [
            (rng.choice(teams), rng.choices(langs, list(TICKET_LANGUAGES.values()))[0])
            for _ in range(max(1, count // 4))
        ]
        made = []
        for n in range(count):
            customer = rng.randrange(len(customers))
            team, language = customers[customer]
            skills = [*TEAM_SKILLS.get(team, ()), None, "legal"]  # legal: nobody has it
            made.append(
                RoutedTicket(
                    ticket_id=f"t-{n:05d}",
                    customer_id=f"cu-{customer}",
                    channel=rng.choices(["email", "chat", "phone"], [0.5, 0.3, 0.2])[0],
                    language=language,
                    category="general",
                    skill=rng.choice(skills),
                    difficulty=rng.choice(["easy", "medium", "hard"]),
                    priority=rng.choice(["P1", "P2", "P3", "P4"]),
                    tier=rng.choices(["L1", "L2", "L3"], [0.6, 0.3, 0.1])[0],
                    team=team,
                )
            )
        return made

    async def run(self, *, tickets: int, bursts: int) -> None:
        stream = self.tickets(tickets)
        self.ticket_ids = [t.ticket_id for t in stream]
        size = len(stream) // bursts
        for burst in range(bursts):
            await self.shuffle_presence(burst)
            for ticket in stream[burst * size : (burst + 1) * size]:
                self.clock.advance(timedelta(milliseconds=self.rng.randint(1, 400)))
                await self.arrive(ticket)
            await self.check_all()
            self.clock.advance(timedelta(minutes=35))
            await self.resolve_some()
            await self.check_all()

    async def arrive(self, ticket: RoutedTicket) -> None:
        ticket, revision = await self.store.create_ticket(ticket)
        await self.desk.place(ticket, revision, Cause(f"opened:{ticket.ticket_id}"), self)
        await self.check_capacity()

    async def resolve_some(self) -> None:
        """As flows.status_changed: free the agent, close the ticket, refill the team."""
        for ticket_id in self.ticket_ids:
            stored = await self.store.ticket(ticket_id)
            if stored is None or stored[0].state == "closed":
                continue
            ticket, revision = stored
            if self.rng.random() > (0.45 if ticket.state == "assigned" else 0.03):
                continue
            self.clock.advance(timedelta(milliseconds=self.rng.randint(1, 50)))
            closed = ticket.model_copy(update={"state": "closed", "ack_due_at": None})
            freed = await self.desk.release(ticket, revision, Cause(f"resolved:{ticket_id}"))
            if ticket.agent_id:
                # The agent helped this customer: their next ticket may come back to them.
                record = await self.store.customer(ticket.customer_id) or {}
                agents = [a for a in record.get("agents", []) if a != ticket.agent_id]
                agents = [ticket.agent_id, *agents][:PREVIOUS_AGENTS_KEPT]
                await self.store.save_customers({ticket.customer_id: {**record, "agents": agents}})
            await self.desk.save(ticket, closed, revision, [freed] if freed else [])
            self.counts["closed"] += 1
            await self.drain(ticket.team, Cause(f"resolved:{ticket_id}"))
            await self.check_capacity()

    async def shuffle_presence(self, burst: int) -> None:
        now = self.clock.now()
        everyone = [a.person_id for t in self.directory.teams for a in t.agents]
        records = await self.store.agent_records(everyone)
        away = [a for a in everyone if records.get(a, {}).get("presence", "online") != "online"]
        for agent_id in self.rng.sample(everyone, 3):
            await self.store.set_presence(agent_id, self.rng.choice(["away", "offline"]), now)
        for agent_id in away[:3]:
            team = self.directory.team_of(agent_id)
            assert team is not None
            if await self.store.set_presence(agent_id, "online", now):
                self.counts["back online"] += 1
                await self.drain(team.name, Cause(f"presence:{agent_id}:{burst}"))
            # A report older than the one stored changes nothing.
            assert not await self.store.set_presence(agent_id, "offline", now - timedelta(hours=1))
            await self.check_capacity()

    async def drain(self, team_name: str, cause: Cause) -> None:
        """Drain as the Desk does, checking it took the queue in order and left nothing takeable."""
        team = self.directory.team(team_name)
        assert team is not None
        before = [t for t, _ in await self.store.queued(team_name, self.order, DRAIN_BATCH)]
        mark = len(self.events)
        placed = await self.desk.drain(team_name, cause, self)
        taken = [e for e in self.events[mark:] if isinstance(e, TicketAssigned)]
        assert len(taken) == placed
        self.counts["drained"] += placed
        place = {t.ticket_id: n for n, t in enumerate(before)}
        positions = [place[e.ticket_id] for e in taken]
        assert positions == sorted(positions), "drain assigned out of queue order"
        records, available = await self.team_view(team)
        # Only a channel with room left now, or taken later in the queue, can show a mistake.
        last_taken = {before[at].channel: at for at in positions}
        room: set[str] = set()
        for agent in team.agents:
            held = records.get(agent.person_id, {}).get("load", {})
            if available[agent.person_id]:
                room |= {c for c in CHANNELS if held.get(c, 0) < agent.capacity_for(c)}
        for n, ticket in enumerate(before):
            if ticket.channel not in room and last_taken.get(ticket.channel, -1) < n:
                continue
            stored = await self.store.ticket(ticket.ticket_id)
            if stored is None or stored[0].state != "queued":
                continue
            seen = verdict(ticket, team, records, (), available, self.desk.rules.assignment)
            assert not seen.free, f"{ticket.ticket_id} left queued while {seen.free} had room"
            skipped_for = [
                e.agent_id
                for e, at in zip(taken, positions, strict=True)
                if at > n and before[at].channel == ticket.channel and e.agent_id in seen.qualified
            ]
            assert not skipped_for, f"{ticket.ticket_id} passed over for a later ticket"

    # -- what is checked ---------------------------------------------------------------------

    async def team_view(self, team: Team) -> tuple[dict[str, Document], dict[str, bool]]:
        records = await self.store.agent_records([a.person_id for a in team.agents])
        now, initial = self.clock.now(), self.desk.rules.assignment.initial_presence
        available = {}
        for agent in team.agents:
            shift = agent.shift or team.shift_calendar
            online = (records.get(agent.person_id, {}).get("presence") or initial) == "online"
            on_shift = shift is None or self.calendars.get(shift).is_open(now)
            available[agent.person_id] = online and on_shift
        return records, available

    async def check_claim(self, agent_id: str, ticket_id: str, capacity: int) -> None:
        stored = await self.store.ticket(ticket_id)
        assert stored is not None
        ticket = stored[0]
        team = self.directory.team(ticket.team)
        agent = self.directory.agent(agent_id)
        assert team is not None and agent is not None and agent in team.agents
        assert capacity == agent.capacity_for(ticket.channel)
        records, available = await self.team_view(team)
        if any(in_flight(r, ticket_id) for r in records.values()):
            return  # a repeated claim of a slot in flight decides nothing
        customer = await self.store.customer(ticket.customer_id) or {}
        seen = verdict(
            ticket, team, records, customer.get("agents", []), available, self.desk.rules.assignment
        )
        assert agent_id in seen.allowed, f"{ticket_id} to {agent_id}, rules allow {seen.allowed}"
        self.counts[seen.rule] += 1

    async def published(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, TicketQueued):
            self.queued[event.ticket_id].append(event)
        if not isinstance(event, TicketAssigned):
            return
        self.assigned[event.ticket_id].append(event)
        self.counts["assigned"] += 1
        stored = await self.store.ticket(event.ticket_id)
        team = self.directory.team_of(event.agent_id)
        agent = self.directory.agent(event.agent_id)
        assert stored is not None and team is not None and agent is not None
        ticket = stored[0]
        assert (team.name, event.team, agent.tier) == (ticket.team, ticket.team, ticket.tier)
        tier_pool = [a for a in team.agents if a.tier == ticket.tier]
        if ticket.skill and ticket.skill not in agent.skills:
            assert f"nobody at {ticket.tier} has skill {ticket.skill}" in event.reason
            assert not any(ticket.skill in a.skills for a in tier_pool)
            self.counts["skill dropped"] += 1
        if ticket.language and ticket.language not in agent.languages:
            assert f"nobody qualified speaks {ticket.language}" in event.reason
            skilled = [a for a in tier_pool if not ticket.skill or ticket.skill in a.skills]
            assert not any(ticket.language in a.languages for a in skilled or tier_pool)
            self.counts["language dropped"] += 1
        records, available = await self.team_view(team)
        assert available[agent.person_id], f"{agent.person_id} is away or off shift"
        # Published after the slot was claimed, before the ticket is saved.
        assert in_flight(records[agent.person_id], ticket.ticket_id)

    async def check_capacity(self) -> None:
        """No agent holds more than their capacity on a channel, and nothing is left in flight."""
        agents = {a.person_id: a for t in self.directory.teams for a in t.agents}
        for agent_id, record in (await self.store.agent_records(list(agents))).items():
            for channel, load in record.get("load", {}).items():
                assert 0 <= load <= agents[agent_id].capacity_for(channel), (agent_id, channel)
            assert not record.get("slots"), (agent_id, record["slots"])

    async def check_all(self) -> None:
        """Every ticket assigned to one holder, queued, or closed; none lost, none held twice:
        each agent's counters are exactly the tickets assigned to them."""
        await self.check_capacity()
        states: Counter[str] = Counter()
        held: Counter[tuple[str, str]] = Counter()
        for ticket_id in self.ticket_ids:
            stored = await self.store.ticket(ticket_id)
            if stored is None:
                continue  # not arrived yet
            ticket = stored[0]
            states[ticket.state] += 1
            assigned, queued = self.assigned.get(ticket_id, []), self.queued.get(ticket_id, [])
            assert len(assigned) <= 1 and len(queued) <= 1, ticket_id
            if ticket.state == "assigned":
                assert ticket.agent_id is not None
                held[(ticket.agent_id, ticket.channel)] += 1
                assert [e.agent_id for e in assigned] == [ticket.agent_id], ticket_id
            elif ticket.state == "queued":
                assert queued and not assigned, ticket_id
        agents = [a.person_id for t in self.directory.teams for a in t.agents]
        loads = Counter(
            {
                (agent_id, channel): n
                for agent_id, record in (await self.store.agent_records(agents)).items()
                for channel, n in record.get("load", {}).items()
                if n
            }
        )
        assert loads == held, "an agent's load is not the tickets assigned to them"
        assert len({e.event_id for e in self.events}) == len(self.events), "an event id repeats"
        self.states = states


@pytest.mark.parametrize("order", list(QUEUE_SORT))
async def test_five_thousand_tickets_in_bursts_keep_every_routing_invariant(order: Any) -> None:
    simulation = Simulation.build(MemoryRoutingStore(), order, agents=50, seed=42)
    await simulation.run(tickets=5000, bursts=20)
    counts = simulation.counts
    total = len(simulation.ticket_ids)
    assert total == 5000 and len(simulation.desk.store.tickets_by_id) == total  # type: ignore[attr-defined]
    assert counts["assigned"] == counts["returning customer"] + counts["least"]
    # Every rule was exercised, not just allowed to be.
    for seen in ("returning customer", "drained", "skill dropped", "language dropped", "closed"):
        assert counts[seen] > 20, (seen, counts)
    assert counts["back online"] > 0


# -- choose() and drain() at their edges ------------------------------------------------------

RULES = AssignmentRules()


def _agent(n: int, tier: Tier = "L1", **fields: Any) -> Agent:
    return Agent(
        person_id=f"ag-{n}", name=f"Agent {n}", email=f"a{n}@helpdesk.example", tier=tier, **fields
    )


def _state(agent: Agent, **fields: Any) -> AgentState:
    return AgentState(agent=agent, team="technical", **fields)


def test_equally_loaded_agents_take_turns_longest_idle_first() -> None:
    states = [_state(_agent(n), last_assigned=at) for n, at in enumerate([30, 10, 20])]
    needs = [Needs(f"t-{n}", "email", "L1") for n in range(6)]
    placed, after = drain(needs, states, RULES, first_sequence=100)
    turns = [p.choice.agent_id for p in placed]
    assert turns == ["ag-1", "ag-2", "ag-0", "ag-1", "ag-2", "ag-0"]
    assert [s.load("email") for s in after] == [2, 2, 2]


def test_excluded_agents_are_passed_over_unless_everyone_at_the_tier_is() -> None:
    states = [_state(_agent(0)), _state(_agent(1))]
    one = choose(Needs("t", "email", "L1", excluded=frozenset({"ag-0"})), states, RULES)
    assert one.agent_id == "ag-1"
    everyone = frozenset({"ag-0", "ag-1"})
    both = choose(Needs("t", "email", "L1", excluded=everyone), states, RULES)
    assert both.agent_id == "ag-0" and "every agent at the tier passed it on before" in both.reason


def test_a_requirement_nobody_at_the_tier_meets_is_dropped_and_said() -> None:
    network = _state(_agent(0, skills=["network"], languages=["en"]))
    billing = _state(_agent(1, skills=["billing"], languages=["en", "ru"]), held={"email": 1})
    states = [network, billing]
    legal = choose(Needs("t", "email", "L1", skill="legal", language="ru"), states, RULES)
    assert legal.agent_id == "ag-1" and "nobody at L1 has skill legal" in legal.reason
    pt = choose(Needs("t", "email", "L1", skill="network", language="pt"), states, RULES)
    assert pt.agent_id == "ag-0" and "nobody qualified speaks pt" in pt.reason
    # A skill someone has stays required while they are busy: the ticket waits for them.
    full = _state(billing.agent, held={"email": 10})
    waits = choose(Needs("t", "email", "L1", skill="billing"), [network, full], RULES)
    assert waits.agent_id is None and "skill billing" in waits.reason


def test_a_channel_of_capacity_zero_never_gets_a_ticket() -> None:
    states = [_state(_agent(0, capacity={"email": 5}))]
    assert states[0].utilisation("phone") == 1.0
    phone = choose(Needs("t", "phone", "L1"), states, RULES)
    assert phone.agent_id is None and phone.reason.startswith("none of 1 qualified agents free")
    waiting = [Needs("t-1", "phone", "L1"), Needs("t-2", "email", "L1")]
    placed, _ = drain(waiting, states, RULES, first_sequence=1)
    assert [(p.ticket_id, p.choice.agent_id) for p in placed] == [("t-2", "ag-0")]


def test_the_returning_customers_agent_wins_only_below_the_utilisation_cap() -> None:
    def holding(n: int) -> AgentState:
        return _state(_agent(0), held={"email": n})

    idle = _state(_agent(1))
    needs = Needs("t", "email", "L1", previous_agents=("ag-9", "ag-0"))
    back = choose(needs, [holding(7), idle], RULES)
    assert back.agent_id == "ag-0" and back.reason.startswith("helped this customer before")
    assert choose(needs, [holding(8), idle], RULES).agent_id == "ag-1"  # 0.8 is the cap


def test_a_ticket_nobody_can_take_keeps_its_place_and_later_ones_still_go() -> None:
    states = [_state(_agent(0, tier="L1")), _state(_agent(1, tier="L2"), presence="away")]
    waiting = [Needs("t-1", "email", "L2"), Needs("t-2", "email", "L1")]
    placed, _ = drain(waiting, states, RULES, first_sequence=1)
    assert [p.ticket_id for p in placed] == ["t-2"]


def test_a_held_ticket_stays_with_its_holder_whatever_their_state() -> None:
    holder = _state(_agent(0), presence="away", held={"email": 1}, claiming={"email": ("t-1",)})
    again = choose(Needs("t-1", "email", "L1"), [_state(_agent(1)), holder], RULES)
    assert again.agent_id == "ag-0" and again.reason.startswith("already holds the ticket")
