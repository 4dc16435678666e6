"""The insights store in memory, for unit and handler tests: the same contract as Mongo's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime

from services.insights.domain.facts import TicketFact
from services.insights.store import LostRace


class MemoryInsightsStore:
    """Facts in a dict. `reads` and `writes` count the calls, as the round trips they stand for."""

    def __init__(self) -> None:
        self.stored: dict[str, TicketFact] = {}
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
        self, since: datetime, until: datetime, teams: frozenset[str] | None
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
