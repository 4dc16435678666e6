"""The insights store in memory, for unit and handler tests: the same contract as Mongo's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Any

from services.insights.domain.categories import Path, paths_of
from services.insights.domain.drill import Drill
from services.insights.domain.facts import TicketFact
from services.insights.domain.surveys import Survey
from services.insights.domain.timers import Timer
from services.insights.store import LostRace
from services.insights.store_agents import Move


class MemoryInsightsStore:
    """Facts in a dict. `reads` and `writes` count the calls, as the round trips they stand for."""

    def __init__(self) -> None:
        self.stored: dict[str, TicketFact] = {}
        self.timer_docs: dict[str, Timer] = {}
        self.surveys: dict[str, Survey] = {}
        self.sent: set[str] = set()
        self.held: dict[str, tuple[str, str]] = {}
        self.over: dict[str, datetime] = {}
        self.days: dict[str, dict[str, Any]] = {}
        self.reads = 0
        self.writes = 0

    async def facts(self, ticket_ids: Iterable[str]) -> dict[str, TicketFact]:
        self.reads += 1
        return {t: self.stored[t] for t in dict.fromkeys(ticket_ids) if t in self.stored}

    async def save(self, facts: Sequence[TicketFact]) -> None:
        self.writes += 1
        lost = 0
        for fact in facts:
            current = self.stored.get(fact.ticket_id)
            if (current.version if current else 0) != fact.version:
                lost += 1
                continue
            self.stored[fact.ticket_id] = fact.model_copy(update={"version": fact.version + 1})
        if lost:
            raise LostRace(f"{lost} facts were saved by another replica")

    async def _each(self, wanted: list[TicketFact]) -> AsyncIterator[TicketFact]:
        for fact in wanted:
            yield fact

    def open_during(
        self, since: datetime, until: datetime, teams: frozenset[str] | None
    ) -> AsyncIterator[TicketFact]:
        return self._each(
            [
                f
                for f in self.stored.values()
                if f.opened_at is not None
                and f.opened_at < until
                and (f.settled_at is None or f.settled_at >= since)
                and (teams is None or f.team in teams)
            ]
        )

    def opened_between(
        self,
        since: datetime,
        until: datetime,
        teams: frozenset[str] | None,
        drill: Drill | None = None,
    ) -> AsyncIterator[TicketFact]:
        return self._each(
            [
                f
                for f in self.stored.values()
                if f.opened_at is not None
                and since <= f.opened_at < until
                and (teams is None or f.team in teams)
            ]
        )

    async def category_counts(
        self, since: datetime, until: datetime, teams: frozenset[str] | None
    ) -> dict[Path, int]:
        return dict(paths_of([f async for f in self.opened_between(since, until, teams)]))

    async def any_opened_before(self, until: datetime) -> bool:
        return any(f.opened_at is not None and f.opened_at < until for f in self.stored.values())

    async def forget_customer(self, ticket_ids: Sequence[str], customer_ids: Sequence[str]) -> int:
        changed = 0
        for ticket_id, fact in list(self.stored.items()):
            if fact.customer_id is not None and (
                ticket_id in ticket_ids or fact.customer_id in customer_ids
            ):
                self.stored[ticket_id] = fact.model_copy(
                    update={"customer_id": None, "version": fact.version + 1}
                )
                changed += 1
        return changed

    async def timers(self, ticket_ids: Iterable[str]) -> dict[str, Timer]:
        wanted = set(ticket_ids)
        return {i: t for i, t in self.timer_docs.items() if t.ticket_id in wanted}

    async def set_timers(self, timers: Sequence[Timer]) -> None:
        for timer in timers:
            current = self.timer_docs.get(timer.timer_id)
            fired = current.fired if current else []
            key = timer.key if timer.key is not None else (current.key if current else None)
            self.timer_docs[timer.timer_id] = timer.model_copy(update={"fired": fired, "key": key})

    async def due_timers(self, now: datetime, limit: int) -> list[Timer]:
        due = [t for t in self.timer_docs.values() if t.due_at is not None and t.due_at <= now]
        return sorted(due, key=lambda t: t.due_at or now)[:limit]

    async def next_due(self) -> datetime | None:
        return min((t.due_at for t in self.timer_docs.values() if t.due_at), default=None)

    async def fired(self, timers: Sequence[Timer]) -> None:
        for timer in timers:
            current = self.timer_docs.get(timer.timer_id, timer)
            fired = [*current.fired, *([timer.key] if timer.key not in current.fired else [])]
            self.timer_docs[timer.timer_id] = current.model_copy(
                update={"due_at": None, "fired": [k for k in fired if k]}
            )

    async def offer_surveys(self, surveys: Sequence[Survey]) -> None:
        for survey in surveys:
            self.surveys.setdefault(survey.ticket_id, survey)

    async def survey(self, ticket_id: str) -> Survey | None:
        return self.surveys.get(ticket_id)

    async def answer_survey(self, survey: Survey, answers_before: int) -> bool:
        current = self.surveys.get(survey.ticket_id)
        if current is None or current.answers != answers_before:
            return False
        self.surveys[survey.ticket_id] = survey
        return True

    async def reports_sent(self, keys: Sequence[str]) -> set[str]:
        return self.sent & set(keys)

    async def report_sent(self, keys: Sequence[str]) -> None:
        self.sent.update(keys)

    async def hold(self, moves: Sequence[Move]) -> None:
        for move in moves:
            if move.after is None:
                self.held.pop(move.ticket_id, None)
            else:
                agent, channel = move.after.split("|", 1)
                self.held[move.ticket_id] = (agent, channel)

    async def holdings(self, agents: Iterable[str]) -> dict[str, dict[str, int]]:
        wanted = set(agents)
        out: dict[str, dict[str, int]] = {}
        for agent, channel in self.held.values():
            if agent in wanted:
                per = out.setdefault(agent, {})
                per[channel] = per.get(channel, 0) + 1
        return out

    async def recount(self, agents: Iterable[str]) -> dict[str, dict[str, int]]:
        return await self.holdings(agents)

    async def over_since(self, agents: Iterable[str]) -> dict[str, datetime]:
        return {a: self.over[a] for a in agents if a in self.over}

    async def set_over_since(self, changes: dict[str, datetime | None]) -> None:
        for agent, since in changes.items():
            if since is None:
                self.over.pop(agent, None)
            else:
                self.over[agent] = since

    async def off_shift(self, replies: Sequence[tuple[str, str, datetime]]) -> dict[str, Any]:
        for agent, day, at in replies:
            doc = self.days.setdefault(f"{agent}:{day}", {"first": at, "last": at})
            doc["first"], doc["last"] = min(doc["first"], at), max(doc["last"], at)
        return {f"{a}:{d}": dict(self.days[f"{a}:{d}"]) for a, d, _ in replies}
