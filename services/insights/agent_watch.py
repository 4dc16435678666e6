"""Agents as the signs of poor service see them: how many tickets each holds open against their
capacity (over it for a long stretch raises `over_capacity`), and replies outside their shift
(a long stretch of them in a day raises `off_shift`). What each agent holds is kept per ticket,
so a repeated event changes nothing; what fires later is a timer of the agent's."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from services.insights.config import InsightsRules
from services.insights.domain.facts import TicketFact
from services.insights.domain.timers import Timer
from services.insights.store import InsightsStore
from services.insights.store_agents import Move
from shared.business_calendar import BusinessCalendar
from shared.clock import Clock
from shared.events import SignalRaised, TicketAgentReplied
from shared.events.tickets import Channel
from shared.ids import derived_id

#: Timers of agents are keyed by this prefix and the agent's id, beside tickets' timers.
AGENT = "agent:"


def agent_subject(agent_id: str) -> str:
    return f"{AGENT}{agent_id}"


class AgentWatch:
    def __init__(self, store: InsightsStore, rules: InsightsRules, clock: Clock) -> None:
        self.store = store
        self.rules = rules
        self.clock = clock
        self.directory = rules.directory

    def _team(self, agent_id: str) -> str | None:
        team = self.directory.team_of(agent_id)
        return team.name if team else None

    def _shift(self, agent_id: str) -> BusinessCalendar | None:
        agent, team = self.directory.agent(agent_id), self.directory.team_of(agent_id)
        name = (agent.shift if agent else None) or (team.shift_calendar if team else None)
        calendars = self.rules.calendars
        return calendars.get(name) if name and name in calendars.names else None

    def _over(self, agent_id: str, load: dict[str, int]) -> bool:
        agent = self.directory.agent(agent_id)
        if agent is None:
            return False
        return any(n > agent.capacity_for(cast(Channel, c)) for c, n in load.items())

    async def after_fold(
        self, facts: dict[str, TicketFact], replies: list[TicketAgentReplied]
    ) -> tuple[dict[str, TicketFact], list[Timer], list[SignalRaised]]:
        """Count who holds the batch's tickets now; arm or disarm the over-capacity timers of
        the agents concerned; the off-shift signals of the batch's replies. Returns the facts
        that now say who holds them (to be saved after), the timers and the signals."""
        moves: list[Move] = []
        updated: dict[str, TicketFact] = {}
        agents: set[str] = set()
        for ticket_id, fact in facts.items():
            now_held = fact.holder
            if now_held == fact.held:
                continue
            moves.append(Move(ticket_id, fact.held, now_held))
            agents.update(h.split("|", 1)[0] for h in (fact.held, now_held) if h)
            updated[ticket_id] = fact.model_copy(update={"held": now_held})
        timers: list[Timer] = []
        if moves:
            await self.store.hold(moves)
            timers = await self._over_capacity(agents)
        return updated, timers, await self._off_shift(replies)

    async def _over_capacity(self, agents: set[str]) -> list[Timer]:
        threshold = self.rules.signals.over_capacity
        if threshold is None or not agents:
            return []
        loads = await self.store.holdings(agents)
        since = await self.store.over_since(agents)
        now = self.clock.now()
        states: dict[str, datetime | None] = {}
        timers: list[Timer] = []
        for agent in sorted(agents):
            over = self._over(agent, loads.get(agent, {}))
            if over and agent not in since:
                states[agent] = now
                key = f"over:{now.isoformat()}"
                timers.append(Timer(ticket_id=agent_subject(agent), kind="over_capacity",
                                    due_at=now + threshold, key=key))  # fmt: skip
            elif not over and agent in since:
                states[agent] = None
                timers.append(Timer(ticket_id=agent_subject(agent), kind="over_capacity"))
        if states:
            await self.store.set_over_since(states)
        return timers

    async def _off_shift(self, replies: list[TicketAgentReplied]) -> list[SignalRaised]:
        threshold = self.rules.signals.off_shift
        if threshold is None:
            return []
        outside: list[tuple[str, str, datetime]] = []
        for reply in replies:
            shift = self._shift(reply.agent_id)
            if shift is None or shift.is_open(reply.occurred_at):
                continue
            day = reply.occurred_at.astimezone(shift.timezone).date().isoformat()
            outside.append((reply.agent_id, day, reply.occurred_at))
        if not outside:
            return []
        days = await self.store.off_shift(outside)
        signals = []
        for key, doc in sorted(days.items()):
            stretch: timedelta = doc["last"] - doc["first"]
            if stretch < threshold:
                continue
            agent, day = key.rsplit(":", 1)
            signals.append(SignalRaised(
                # One per agent and day: each later reply of the same day raises the same id.
                event_id=derived_id("insights-off-shift", key),
                subject=agent, kind="off_shift", team=self._team(agent), agent_id=agent,
                value=stretch.total_seconds(), threshold=threshold.total_seconds(),
                detail=f"replied outside their shift on {day}, from "
                f"{doc['first']:%H:%M} to {doc['last']:%H:%M} UTC",
            ))  # fmt: skip
        return signals

    async def fire(self, timer: Timer, now: datetime) -> SignalRaised | None:
        """The signal of an over-capacity timer, if the agent is still over since the time it
        was armed for."""
        agent = timer.ticket_id.removeprefix(AGENT)
        since = (await self.store.over_since([agent])).get(agent)
        threshold = self.rules.signals.over_capacity
        if since is None or threshold is None or timer.key != f"over:{since.isoformat()}":
            return None
        # Counted again from the tickets, so a signal never rests on a count gone astray.
        load = (await self.store.recount([agent])).get(agent, {})
        if not self._over(agent, load):
            return None
        person = self.directory.agent(agent)
        held = ", ".join(
            f"{channel} {count} of {person.capacity_for(cast(Channel, channel)) if person else 0}"
            for channel, count in sorted(load.items())
        )
        return SignalRaised(
            event_id=derived_id("insights-over-capacity", agent, timer.key),
            subject=agent,
            kind="over_capacity",
            team=self._team(agent),
            agent_id=agent,
            value=round((now - since).total_seconds()),
            threshold=threshold.total_seconds(),
            detail=f"over capacity since {since:%Y-%m-%d %H:%M} UTC, holding {held}",
        )
