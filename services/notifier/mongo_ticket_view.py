"""Ticket views in MongoDB (collection `ticket_views`): one document per ticket, the full view
an agent's workspace shows.

A batch's changes are one bulk write of one update per view. Facts are guarded as the board's
groups are ("not newer than"); new entries by their ids (none of them held already) and by the
view not being erased. A view whose guard does not hold is read again, and only what it still
lacks is written again (an erased view's entries blanked). The timeline is pushed sorted by
time, then arrival, and sliced to the latest `TIMELINE_LIMIT`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pymongo import ASCENDING, DESCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.notifier.domain.ticket_view import (
    TIMELINE_LIMIT,
    View,
    ViewChange,
    ViewWrite,
    coalesced,
)
from services.notifier.domain.workspace import SEARCHED, Scope
from services.notifier.mongo_guarded import write_guarded
from shared.mongo import Document, Indexes

COLLECTION = "ticket_views"
#: What a search result does not need: the long parts.
LISTED_OUT = ("timeline", "suggestions", "clocks")


def _update(write: ViewWrite) -> UpdateOne:
    # Conditions side by side with the id, not `$or` nor `$and` (see mongo_board).
    query: Document = {"_id": write.ticket_id}
    update: Document = {"$max": {"updated_at": write.latest}, "$inc": {"revision": 1}}
    fields = write.facts.fields if write.facts is not None else {}
    for group in write.facts.groups if write.facts is not None else ():
        version = f"versions.{group.group}"
        query[version] = {"$not": {"$gt": group.since}}
        fields[version] = group.at
    if write.entries:
        query["timeline.id"] = {"$nin": [e["id"] for e in write.entries]}
        query["erased"] = {"$ne": True}
        update["$push"] = {
            "timeline": {
                "$each": list(write.entries),
                "$sort": {"at": ASCENDING, "arrival": ASCENDING},
                "$slice": -TIMELINE_LIMIT,
            }
        }
    if fields:
        update["$set"] = fields
    if "open" not in fields:
        update["$setOnInsert"] = {"open": True}
    # A view whose guard does not hold is not matched; the upsert then meets its `_id` and
    # fails with a duplicate key, which names the view to read again.
    return UpdateOne(query, update, upsert=True)


def search_query(text: str) -> Document:
    """Views whose reference starts with `text` or whose facts or texts contain it, whatever
    the case; `text` is escaped, so it never acts as a pattern."""
    pattern = re.escape(text)
    contains = [{f: {"$regex": pattern, "$options": "i"}} for f in (*SEARCHED, "timeline.body")]
    return {"$or": [{"reference": {"$regex": f"^{pattern}", "$options": "i"}}, *contains]}


class MongoTicketViews:
    _views: AsyncCollection[Document]

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._views = db[COLLECTION]

    @staticmethod
    def ticket_view_indexes() -> list[Indexes]:
        return [
            Indexes(
                COLLECTION,
                [
                    IndexModel([("team", ASCENDING), ("updated_at", DESCENDING)]),
                    IndexModel([("assignee_id", ASCENDING), ("updated_at", DESCENDING)]),
                ],
            )
        ]

    async def apply_ticket_views(self, changes: Sequence[ViewChange]) -> None:
        await write_guarded(self._views, changes, coalesced, _update)

    async def ticket_view(self, ticket_id: str) -> View | None:
        return await self._views.find_one({"_id": ticket_id})

    async def search_ticket_views(self, scope: Scope, text: str, limit: int) -> list[View]:
        # The person's own tickets, and their teams': two indexed reads rather than one `$or`.
        scopes: list[Document] = [{"assignee_id": scope.person_id}]
        if scope.teams:
            scopes.append({"team": {"$in": list(scope.teams)}})
        found: dict[str, View] = {}
        for where in scopes:
            query = {**where, **search_query(text)}
            cursor = self._views.find(query, dict.fromkeys(LISTED_OUT, 0))
            cursor = cursor.sort("updated_at", DESCENDING).limit(limit)
            found.update({view["_id"]: view async for view in cursor})
        newest = sorted(found.values(), key=lambda view: view["updated_at"], reverse=True)
        return newest[:limit]
