"""An in-memory `RoutingStore` with the semantics of `MongoRoutingStore`, and synthetic
directories of any size, for router tests and benchmarks that need no database."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from services.router.domain.tickets import RoutedTicket, queue_key
from shared.business_calendar import Calendars, CalendarSpec
from shared.directory import CHANNELS, Agent, Directory, Person, Team
from shared.events import Presence, QueueOrder
from shared.events.tickets import Channel, Tier
from shared.mongo import Document

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


class MemoryRoutingStore:
    """`RoutingStore` in dictionaries: one event loop, so every method is atomic by itself."""

    def __init__(self) -> None:
        self.tickets: dict[str, tuple[RoutedTicket, int]] = {}
        self.agents: dict[str, Document] = {}
        self.customer_records: dict[str, Document] = {}
        #: Queued tickets by team, kept beside the records as MongoDB keeps an index.
        self._waiting: dict[str, dict[str, RoutedTicket]] = {}

    def _put(self, ticket: RoutedTicket, revision: int) -> tuple[RoutedTicket, int]:
        before = self.tickets.get(ticket.ticket_id)
        if before is not None:
            self._waiting.get(before[0].team, {}).pop(ticket.ticket_id, None)
        if ticket.state == "queued":
            self._waiting.setdefault(ticket.team, {})[ticket.ticket_id] = ticket
        self.tickets[ticket.ticket_id] = (ticket, revision)
        return ticket, revision

    async def ticket(self, ticket_id: str) -> tuple[RoutedTicket, int] | None:
        return self.tickets.get(ticket_id)

    async def create_ticket(self, ticket: RoutedTicket) -> tuple[RoutedTicket, int]:
        return self.tickets.get(ticket.ticket_id) or self._put(ticket, 0)

    async def save_ticket(self, ticket: RoutedTicket, revision: int) -> bool:
        stored = self.tickets.get(ticket.ticket_id)
        if stored is None or stored[1] != revision:
            return False
        self._put(ticket, revision + 1)
        return True

    def _where(self, **equal: Any) -> list[RoutedTicket]:
        return [
            t
            for t, _ in self.tickets.values()
            if all(getattr(t, name) == value for name, value in equal.items())
        ]

    async def queued(self, team: str, order: QueueOrder, limit: int) -> list[RoutedTicket]:
        # queue_key reads a missing rank as 0, as MongoDB sorts a null before any number.
        waiting = self._waiting.get(team, {}).values()
        return sorted(waiting, key=lambda t: queue_key(t, order))[:limit]

    async def queue_teams(self) -> list[str]:
        return sorted(team for team, waiting in self._waiting.items() if waiting)

    async def due_acknowledgements(self, now: datetime, limit: int) -> list[RoutedTicket]:
        due = [
            t
            for t in self._where(state="assigned", acknowledged=False)
            if t.ack_due_at is not None and t.ack_due_at <= now
        ]
        return sorted(due, key=lambda t: t.ack_due_at or now)[:limit]

    async def next_acknowledgement(self) -> datetime | None:
        due = [t.ack_due_at for t in self._where(state="assigned", acknowledged=False)]
        return min((at for at in due if at is not None), default=None)

    async def passed_around(self, at_least: int, limit: int) -> list[RoutedTicket]:
        moved = [t for t, _ in self.tickets.values() if t.transfer_count >= at_least]
        return sorted(moved, key=lambda t: -t.transfer_count)[:limit]

    async def agent_records(self, agent_ids: Sequence[str]) -> dict[str, Document]:
        return {i: _agent_copy(self.agents[i]) for i in agent_ids if i in self.agents}

    async def claim(
        self, agent_id: str, channel: Channel, ticket_id: str, capacity: int, sequence: int
    ) -> bool:
        """Refuse beyond capacity; a ticket already held on the channel claims again for free."""
        record = self.agents.get(agent_id, {})
        held = list(record.get("open", {}).get(channel, []))
        if ticket_id not in held:
            if len(held) >= capacity:
                return False
            held.append(ticket_id)
        record = self.agents.setdefault(agent_id, {"_id": agent_id})
        record.setdefault("open", {})[channel] = held
        record["last_assigned"] = max(int(record.get("last_assigned", sequence)), sequence)
        return True

    async def release(self, agent_id: str, ticket_id: str) -> None:
        for held in self.agents.get(agent_id, {}).get("open", {}).values():
            if ticket_id in held:
                held.remove(ticket_id)

    async def set_presence(self, agent_id: str, presence: Presence, at: datetime) -> bool:
        """Record a report unless a later one is stored; True when the presence changed."""
        record = self.agents.get(agent_id)
        if record is None:
            self.agents[agent_id] = {"_id": agent_id, "presence": presence, "presence_at": at}
            return True
        reported = record.get("presence_at")
        if reported is not None and reported > at:
            return False
        before = record.get("presence")
        record.update(presence=presence, presence_at=at)
        return before != presence

    async def customer(self, customer_id: str) -> Document | None:
        record = self.customer_records.get(customer_id)
        return _copy(record) if record is not None else None

    async def customers(self, customer_ids: Sequence[str]) -> dict[str, Document]:
        return {
            cid: _copy(self.customer_records[cid])
            for cid in set(customer_ids)
            if cid in self.customer_records
        }

    async def save_customer(self, customer_id: str, record: Document) -> None:
        self.customer_records[customer_id] = {**_copy(record), "_id": customer_id}


def _agent_copy(doc: Document) -> Document:
    """An agent's record with its own lists, read often enough to skip the general copy."""
    held = doc.get("open")
    if held is None:
        return dict(doc)
    return {**doc, "open": {channel: list(ids) for channel, ids in held.items()}}


def _copy(doc: Mapping[str, Any]) -> Document:
    """A copy deep enough that a caller cannot change the stored lists and maps."""
    copied = dict(doc)
    for k, v in doc.items():
        if isinstance(v, Mapping):
            copied[k] = _copy(v)
        elif isinstance(v, list):
            copied[k] = list(v)
    return copied


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


__all__ = ["CHANNELS", "MemoryRoutingStore", "shift_calendars", "synthetic_directory"]
