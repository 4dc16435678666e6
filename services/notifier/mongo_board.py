"""The board in MongoDB (collection `board`): the tickets the consoles show, one row each.

A batch's changes are one bulk write of one update per row, guarded by the version of each
group it sets; a row found newer than a guard (a redelivery, a race) is read again and only
its still-fresh changes are written again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pymongo import ASCENDING, DESCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.notifier.domain.board import Change, Row, RowWrite, coalesce
from services.notifier.domain.views import Viewer
from services.notifier.mongo_guarded import write_guarded
from shared.mongo import Document, Indexes, find_by_ids

COLLECTION = "board"
#: Most rows one console is sent at sign-in; the oldest changes beyond it are left out.
BOARD_LIMIT = 500


def _update(write: RowWrite) -> UpdateOne:
    # One condition per group, side by side with the id: "not newer than", which a row
    # without the group meets too. Not `$or` nor `$and`: with either the database may scan
    # every row instead of going to this one by its id.
    query: Document = {"_id": write.ticket_id}
    fields = write.fields
    for group in write.groups:
        version = f"versions.{group.group}"
        query[version] = {"$not": {"$gt": group.since}}
        fields[version] = group.at
    update: Document = {
        "$set": fields,
        "$max": {"updated_at": max(group.at for group in write.groups)},
    }
    if "open" not in fields:
        update["$setOnInsert"] = {"open": True}
    # A row newer than a guard is not matched; the upsert then meets its `_id` and fails
    # with a duplicate key, which names the row to read again.
    return UpdateOne(query, update, upsert=True)


class MongoBoard:
    _rows: AsyncCollection[Document]

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._rows = db[COLLECTION]

    @staticmethod
    def board_indexes() -> list[Indexes]:
        return [
            Indexes(
                COLLECTION,
                [
                    IndexModel([("team", ASCENDING), ("open", ASCENDING), ("updated_at", -1)]),
                    IndexModel(
                        [("assignee_id", ASCENDING), ("open", ASCENDING), ("updated_at", -1)]
                    ),
                ],
            )
        ]

    async def apply_board(self, changes: Sequence[Change]) -> None:
        await write_guarded(self._rows, changes, coalesce, _update)

    async def board_rows(self, ticket_ids: Iterable[str]) -> dict[str, Row]:
        return await find_by_ids(self._rows, ticket_ids)

    async def board_for(self, viewer: Viewer) -> list[Row]:
        teams = list(viewer.teams)
        if viewer.role == "agent":
            # Their own tickets, and their team's queue: two indexed reads rather than one
            # `$or`, with which the database may scan every row.
            queries: list[Document] = [
                {"assignee_id": viewer.person_id, "open": True},
                {"assignee_id": None, "team": {"$in": teams}, "open": True},
            ]
        else:
            queries = [{"team": {"$in": teams}, "open": True}]
        rows: dict[str, Row] = {}
        for query in queries:
            cursor = self._rows.find(query).sort("updated_at", DESCENDING).limit(BOARD_LIMIT)
            rows.update({row["_id"]: row async for row in cursor})
        newest = sorted(rows.values(), key=lambda row: row["updated_at"], reverse=True)
        return newest[:BOARD_LIMIT]
