"""Where the insights service keeps what it knows of agents: who holds each ticket open (and so
each agent's count per channel) and their replies outside their shift, in MongoDB."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import DeleteOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from shared.mongo import DUPLICATE_KEY, Document, chunked, find_by_ids

HOLDINGS = "holdings"
AGENTS = "agents"
OFF_SHIFT = "off_shift"


@dataclass(frozen=True)
class Move:
    """A ticket changing hands: who held it open before ("agent|channel", None: nobody) and
    who holds it now."""

    ticket_id: str
    before: str | None
    after: str | None


def _holder(held: str | None) -> Document:
    if held is None:
        return {"agent_id": {"$exists": False}}
    agent, channel = held.split("|", 1)
    return {"agent_id": agent, "channel": channel}


class MongoAgents:
    """The agents' part of `MongoInsightsStore`."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._holdings = db[HOLDINGS]
        self._agents = db[AGENTS]
        self._off_shift = db[OFF_SHIFT]

    async def hold(self, moves: Sequence[Move]) -> None:
        # One document per held ticket (not a map in the agent's): a ticket id is never a
        # field name, and moving a ticket is one write. Each write names the holder it moves
        # the ticket from, so one that finds another (the same batch again, after a crash
        # between this and the facts' save) changes nothing: then the agents concerned are
        # counted again instead of counted on.
        writes: list[Any] = []
        for move in moves:
            if move.after is None:
                writes.append(DeleteOne({"_id": move.ticket_id, **_holder(move.before)}))
            else:
                agent, channel = move.after.split("|", 1)
                fields = {"agent_id": agent, "channel": channel}
                query = {"_id": move.ticket_id, **_holder(move.before)}
                writes.append(UpdateOne(query, {"$set": fields}, upsert=move.before is None))
        done = 0
        for chunk in chunked(writes):
            try:
                result = await self._holdings.bulk_write(chunk, ordered=False)
                done += result.upserted_count + result.modified_count + result.deleted_count
            except BulkWriteError as exc:
                if any(e.get("code") != DUPLICATE_KEY for e in exc.details["writeErrors"]):
                    raise
                details = exc.details
                done += details["nUpserted"] + details["nModified"] + details["nRemoved"]
        agents = {h.split("|", 1)[0] for m in moves for h in (m.before, m.after) if h}
        if done < len(moves):
            await self.recount(agents)
            return
        counts: Counter[tuple[str, str]] = Counter()
        for move in moves:
            for held, step in ((move.before, -1), (move.after, 1)):
                if held is not None:
                    agent, channel = held.split("|", 1)
                    counts[agent, channel] += step
        per_agent: dict[str, Document] = {}
        for (agent, channel), step in counts.items():
            if step:
                per_agent.setdefault(agent, {})[f"held.{channel}"] = step
        incs = [UpdateOne({"_id": a}, {"$inc": inc}, upsert=True) for a, inc in per_agent.items()]
        for chunk in chunked(incs):
            await self._agents.bulk_write(chunk, ordered=False)

    async def holdings(self, agents: Iterable[str]) -> dict[str, dict[str, int]]:
        found = await find_by_ids(self._agents, agents)
        counted = {
            agent: {channel: n for channel, n in doc.get("held", {}).items() if n > 0}
            for agent, doc in found.items()
        }
        return {agent: held for agent, held in counted.items() if held}

    async def recount(self, agents: Iterable[str]) -> dict[str, dict[str, int]]:
        wanted = list(dict.fromkeys(agents))
        out: dict[str, dict[str, int]] = {}
        for chunk in chunked(wanted):
            async for doc in self._holdings.find({"agent_id": {"$in": chunk}}):
                per = out.setdefault(doc["agent_id"], {})
                per[doc["channel"]] = per.get(doc["channel"], 0) + 1
        writes = [
            UpdateOne({"_id": agent}, {"$set": {"held": out.get(agent, {})}}, upsert=True)
            for agent in wanted
        ]
        for part in chunked(writes):
            await self._agents.bulk_write(part, ordered=False)
        return out

    async def over_since(self, agents: Iterable[str]) -> dict[str, datetime]:
        found = await find_by_ids(self._agents, agents)
        return {a: d["over_since"] for a, d in found.items() if d.get("over_since")}

    async def set_over_since(self, changes: dict[str, datetime | None]) -> None:
        writes = [
            UpdateOne({"_id": agent}, {"$set": {"over_since": since}}, upsert=True)
            for agent, since in changes.items()
        ]
        for chunk in chunked(writes):
            await self._agents.bulk_write(chunk, ordered=False)

    async def off_shift(self, replies: Sequence[tuple[str, str, datetime]]) -> dict[str, Document]:
        # $min and $max: a repeated reply changes nothing.
        writes = [
            UpdateOne(
                {"_id": f"{agent}:{day}"},
                {"$min": {"first": at}, "$max": {"last": at},
                 "$setOnInsert": {"agent_id": agent, "day": day}},
                upsert=True,
            )
            for agent, day, at in replies
        ]  # fmt: skip
        for chunk in chunked(writes):
            await self._off_shift.bulk_write(chunk, ordered=False)
        return await find_by_ids(self._off_shift, [f"{a}:{d}" for a, d, _ in replies])
