"""The SLA store in memory, for fast tests of the service: the same contract as
`MongoSlaStore` (compare-and-set saves, armed tickets per partition, finished targets)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from datetime import datetime

from services.sla.store import Armed, Save, Saved, Stored, result_key, result_of
from shared.mongo import Document


class MemorySlaStore:
    """Tickets and finished targets in dicts; the armed tickets are read off the tickets.
    `reads` and `writes` count the calls, as the database round trips they stand for."""

    def __init__(self, tickets: Iterable[Stored] = ()) -> None:
        self.tickets: dict[str, Stored] = {s.ticket.ticket_id: s for s in tickets}
        self.outcomes: dict[str, Document] = {}
        self.reads = 0
        self.writes = 0

    async def load(self, ticket_ids: Iterable[str]) -> dict[str, Stored]:
        self.reads += 1
        return {t: self.tickets[t] for t in dict.fromkeys(ticket_ids) if t in self.tickets}

    async def save_all(self, saves: Sequence[Save]) -> Saved:
        self.writes += 1
        outcome = Saved()
        for save in saves:
            for item in save.finished:
                self.outcomes[result_key(item)] = result_of(item)
        for save in saves:
            ticket_id = save.ticket.ticket_id
            current = self.tickets.get(ticket_id)
            expected = save.before.revision if save.before else None
            if (current.revision if current else None) != expected:
                outcome.lost[ticket_id] = None
                continue
            stored = Stored(save.ticket, (expected or 0) + 1, ticket_id)
            self.tickets[ticket_id] = outcome.saved[ticket_id] = stored
        return outcome

    async def armed_in(self, partitions: Iterable[int]) -> AsyncIterator[Armed]:
        wanted = set(partitions)
        for stored in list(self.tickets.values()):
            ticket = stored.ticket
            if ticket.next_at is not None and ticket.partition in wanted:
                yield Armed(
                    ticket.ticket_id, ticket.next_at, ticket.partition, ticket.version or ""
                )

    async def results(
        self,
        since: datetime,
        until: datetime,
        *,
        metric: str | None = None,
        team: str | None = None,
        priority: str | None = None,
        teams: Collection[str] | None = None,
    ) -> list[Document]:
        wanted = {"metric": metric, "team": team, "priority": priority}
        return [
            dict(doc)
            for doc in self.outcomes.values()
            if since <= doc["decided_at"] < until
            and all(value is None or doc[name] == value for name, value in wanted.items())
            and (teams is None or doc["team"] in teams)
        ]
