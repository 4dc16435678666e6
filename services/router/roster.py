"""The agents of some teams as one decision or batch sees them: read once, changed in memory as it
decides, and the slot changes a crash or lost race left in flight judged on the way (`store.py`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.router.domain.assignment import AgentState
from services.router.domain.rules import RoutingRules
from services.router.domain.slots import NEW, SlotChange, fate
from services.router.store import RoutingStore, Stored
from services.router.store_agents import in_flight
from shared.business_calendar import Calendars
from shared.clock import Clock
from shared.directory import Agent, Directory, Team
from shared.events.tickets import Channel
from shared.mongo import Document

#: Changes in flight for tickets nobody here is deciding are judged once this old: a batch in
#: progress elsewhere takes far less, so only what a crash left is looked at.
STALE_AFTER = timedelta(seconds=30)
#: A change whose ticket never moved past it is undone once this old: no input is retried so
#: long (the kit gives up within a minute and Kafka redelivers at once).
ABANDONED_AFTER = timedelta(hours=1)


@dataclass
class Roster:
    """Agents' states by id, the tickets being decided, and what was found in flight."""

    states: dict[str, AgentState]
    members: dict[str, list[str]]
    #: Tickets being decided, as read (None: not stored yet).
    known: Mapping[str, Stored | None]
    #: The agents' records as read.
    records: dict[str, Document] = field(default_factory=dict)
    #: Changes in flight from the revision each known ticket is at, by ticket.
    pending: dict[str, list[SlotChange]] = field(default_factory=dict)
    #: Changes in flight found final or dead, settled or undone with the next write.
    settled: list[SlotChange] = field(default_factory=list)
    undone: list[SlotChange] = field(default_factory=list)

    def team(self, name: str) -> list[AgentState]:
        return [self.states[a] for a in self.members.get(name, ())]

    def live_claim(self, ticket_id: str) -> SlotChange | None:
        """A slot claimed for the ticket at its current revision (a crash came before its save)."""
        return next((c for c in self.pending.get(ticket_id, ()) if c.delta > 0), None)

    def take(self, change: SlotChange) -> None:
        state = self.states[change.agent_id]
        self.states[change.agent_id] = state.with_ticket(
            change.channel, change.ticket_id, change.sequence
        )

    def base(self, ticket_id: str) -> int:
        stored = self.known.get(ticket_id)
        return stored[1] if stored is not None else NEW


class RosterReader:
    """Builds rosters from the agents' records, the directory and their shifts."""

    def __init__(
        self,
        store: RoutingStore,
        directory: Directory,
        rules: RoutingRules,
        calendars: Calendars,
        clock: Clock,
    ) -> None:
        self.store = store
        self.directory = directory
        self.rules = rules
        self.calendars = calendars
        self.clock = clock

    async def read(self, teams: Iterable[str], known: Mapping[str, Stored | None]) -> Roster:
        """The teams' agents in one read; `known` are the tickets the caller is deciding."""
        members = {
            team.name: [a.person_id for a in team.agents]
            for name in dict.fromkeys(teams)
            if (team := self.directory.team(name)) is not None
        }
        records = await self._records([a for ids in members.values() for a in ids])
        roster = Roster({}, members, {}, records)
        await self.know(roster, known)
        return roster

    async def know(self, roster: Roster, known: Mapping[str, Stored | None]) -> None:
        """Decide these tickets on the records already read (nothing decided on them yet)."""
        roster.known = known
        roster.pending, roster.settled, roster.undone = {}, [], []
        await self._judge(roster, roster.records)
        for name in roster.members:
            team = self.directory.team(name)
            assert team is not None
            for agent in team.agents:
                record = roster.records[agent.person_id]
                roster.states[agent.person_id] = self._state(agent, team, record, roster)

    async def refresh(self, roster: Roster, agent_ids: Iterable[str]) -> None:
        """Read these agents again (another replica changed them since), keeping the rest."""
        records = await self._records(agent_ids)
        roster.records.update(records)
        for agent_id, record in records.items():
            team = self.directory.team_of(agent_id)
            agent = self.directory.agent(agent_id)
            assert team is not None and agent is not None
            pending = [c for c, _ in in_flight(record) if self._pending(c, roster)]
            for change in pending:
                if change not in roster.pending.get(change.ticket_id, []):
                    roster.pending.setdefault(change.ticket_id, []).append(change)
            roster.states[agent_id] = self._state(agent, team, record, roster)

    async def _records(self, agent_ids: Iterable[str]) -> dict[str, Document]:
        ids = list(dict.fromkeys(agent_ids))
        records = await self.store.agent_records(ids)
        missing = [i for i in ids if i not in records]
        if missing:
            await self.store.prepare_agents(missing)
            records.update(await self.store.agent_records(missing))
        return records

    @staticmethod
    def _pending(change: SlotChange, roster: Roster) -> bool:
        return change.ticket_id in roster.known and change.base == roster.base(change.ticket_id)

    async def _judge(self, roster: Roster, records: Mapping[str, Document]) -> None:
        """Sort what is in flight: the known tickets' current changes are pending; their older
        ones, and other tickets' stale ones, are settled or undone by `fate`."""
        now = self.clock.now()
        judged: list[tuple[SlotChange, Stored | None, bool]] = []
        unknown: list[tuple[SlotChange, datetime]] = []
        for record in records.values():
            for change, at in in_flight(record):
                if self._pending(change, roster):
                    roster.pending.setdefault(change.ticket_id, []).append(change)
                elif change.ticket_id in roster.known:
                    judged.append((change, roster.known[change.ticket_id], False))
                elif now - at > STALE_AFTER:
                    unknown.append((change, at))
        if unknown:
            fresh = await self.store.tickets({c.ticket_id for c, _ in unknown})
            judged += [(c, fresh.get(c.ticket_id), now - at > ABANDONED_AFTER) for c, at in unknown]
        for change, stored, abandoned in judged:
            revision = stored[1] if stored is not None else None
            saved = stored[0].slot_changes if stored is not None else ()
            verdict = fate(change, revision, saved, abandoned=abandoned)
            if verdict == "settle":
                roster.settled.append(change)
            elif verdict == "undo":
                roster.undone.append(change)

    def _state(self, agent: Agent, team: Team, record: Document, roster: Roster) -> AgentState:
        now = self.clock.now()
        shift = agent.shift or team.shift_calendar
        claiming: dict[Channel, tuple[str, ...]] = {}
        for change in (c for cs in roster.pending.values() for c in cs):
            if change.agent_id == agent.person_id and change.delta > 0:
                claiming[change.channel] = (*claiming.get(change.channel, ()), change.ticket_id)
        # The stored counts as they are, changes still to be undone included: a claim is
        # refused by the same counts it is checked against.
        held: dict[Channel, int] = {ch: max(0, int(n)) for ch, n in record.get("load", {}).items()}
        return AgentState(
            agent=agent,
            team=team.name,
            presence=record.get("presence") or self.rules.assignment.initial_presence,
            on_shift=shift is None or self.calendars.get(shift).is_open(now),
            held=held,
            claiming=claiming,
            last_assigned=int(record.get("last_assigned", 0)),
        )
