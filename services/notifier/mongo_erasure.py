"""Erasing a customer in MongoDB: the rows, deliveries and escalations of their tickets by an
indexed write, then one read of whatever other customer text names them, blanked in one bulk
write per collection. An erasure is rare (a manager's request): the read of text naming the
person goes through the whole collection, as finding free text has to."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from services.notifier.domain.erasure import ERASED_VERSION, NOTICE_FIELDS, ROW_FIELDS, Erasure
from services.notifier.domain.notices import Notice
from shared.mongo import Document, chunked


def mentioning(fields: Sequence[str], texts: Sequence[str]) -> Document:
    """Documents where any of `fields` contains any of `texts`, whatever the case."""
    return {
        "$or": [
            {field: {"$regex": re.escape(text), "$options": "i"}}
            for field in fields
            for text in texts
        ]
    }


async def erase_rows(rows: AsyncCollection[Document], erasure: Erasure) -> None:
    blank: Document = dict.fromkeys(ROW_FIELDS)
    for chunk in chunked(list(erasure.ticket_ids)):
        await rows.update_many(
            {"_id": {"$in": chunk}}, {"$set": {**blank, "versions.opened": ERASED_VERSION}}
        )
    if erasure.customer_ids:
        await rows.update_many(
            {"customer": {"$in": list(erasure.customer_ids)}}, {"$set": {"customer": None}}
        )
    if not erasure.texts:
        return
    writes = []
    async for row in rows.find(mentioning(ROW_FIELDS, erasure.texts), dict.fromkeys(ROW_FIELDS, 1)):
        after = erasure.row(row)
        changed = {f: None for f in ROW_FIELDS if row.get(f) is not None and after.get(f) is None}
        if changed:
            writes.append(UpdateOne({"_id": row["_id"]}, {"$set": changed}))
    if writes:
        await rows.bulk_write(writes, ordered=False)


async def erase_notices(collection: AsyncCollection[Document], erasure: Erasure) -> None:
    """For deliveries and escalations: documents with a `ticket_id` and a `notice`."""
    blank = {"notice.subject": None, "notice.customer": None}
    for chunk in chunked(list(erasure.ticket_ids)):
        await collection.update_many({"ticket_id": {"$in": chunk}}, {"$set": blank})
    if not erasure.texts:
        return
    fields = [f"notice.{f}" for f in NOTICE_FIELDS]
    writes = []
    async for doc in collection.find(
        mentioning(fields, erasure.texts), {"ticket_id": 1, "notice": 1}
    ):
        before = Notice.model_validate(doc["notice"])
        after = erasure.notice(doc["ticket_id"], before)
        changed = {
            f"notice.{f}": None
            for f in NOTICE_FIELDS
            if getattr(before, f) is not None and getattr(after, f) is None
        }
        if changed:
            writes.append(UpdateOne({"_id": doc["_id"]}, {"$set": changed}))
    if writes:
        await collection.bulk_write(writes, ordered=False)
