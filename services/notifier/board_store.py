"""The board in MongoDB (collection `board`): the open tickets the consoles show.

Written once per event by the shared consumer group; read by `GET /board` and by each
replica for tickets it has not seen yet.
"""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.notifier.board import Change, Row, Viewer
from shared.mongo import Document, Indexes

COLLECTION = "board"
#: Most rows one console is sent at sign-in; the oldest changes beyond it are left out.
BOARD_LIMIT = 500


class BoardStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._rows = db[COLLECTION]

    @staticmethod
    def indexes() -> list[Indexes]:
        return [
            Indexes(
                COLLECTION,
                [
                    IndexModel([("team", ASCENDING), ("open", ASCENDING)]),
                    IndexModel([("assignee_id", ASCENDING), ("open", ASCENDING)]),
                ],
            )
        ]

    async def apply(self, change: Change) -> bool:
        """Set the change's fields unless a newer event of its group was applied already."""
        version = f"versions.{change.group}"
        update: Document = {
            "$set": {**change.fields, version: change.at},
            "$max": {"updated_at": change.at},
        }
        if "open" not in change.fields:
            update["$setOnInsert"] = {"open": True}
        try:
            result = await self._rows.update_one(
                {
                    "_id": change.ticket_id,
                    "$or": [{version: {"$exists": False}}, {version: {"$lte": change.at}}],
                },
                update,
                upsert=True,
            )
        except DuplicateKeyError:
            # The row exists with a newer event of this group: this one is stale.
            return False
        return result.modified_count == 1 or result.upserted_id is not None

    async def get(self, ticket_id: str) -> Row | None:
        return await self._rows.find_one({"_id": ticket_id})

    async def for_viewer(self, viewer: Viewer) -> list[Row]:
        """Open rows the viewer's console shows, most recently changed first."""
        teams = list(viewer.teams)
        query: Document = {"open": True}
        if viewer.role == "agent":
            query["$or"] = [
                {"assignee_id": viewer.person_id},
                {"assignee_id": None, "team": {"$in": teams}},
            ]
        else:
            query["team"] = {"$in": teams}
        cursor = self._rows.find(query).sort("updated_at", DESCENDING).limit(BOARD_LIMIT)
        return [row async for row in cursor]
