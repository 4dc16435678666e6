"""Erasing a customer in MongoDB: the rows, deliveries and escalations of their tickets by an
indexed write, then one read of whatever other customer text names them, blanked in one bulk
write per collection; ticket views the same way, each write guarded by the view's revision.
An erasure is rare (a manager's request): the read of text naming the person goes through the
whole collection, as finding free text has to."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from services.notifier.domain.erasure import (
    ENTRY_FIELDS,
    ERASED_VERSION,
    EVENT_FIELDS,
    NOTICE_FIELDS,
    ROW_FIELDS,
    VIEW_FIELDS,
    Erasure,
)
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


#: Where a ticket view holds customer text.
VIEW_TEXTS = (
    *VIEW_FIELDS,
    *(f"timeline.{f}" for f in ENTRY_FIELDS),
    "timeline.attachments.filename",
    *(f"timeline.fields.{f}" for f in EVENT_FIELDS),
)
#: Rounds of blanking views that other writes changed meanwhile.
VIEW_TRIES = 5


async def erase_views(views: AsyncCollection[Document], erasure: Erasure) -> None:
    """Mark the views of the person's tickets erased first: from then on an entry written to
    them is written blanked. Then blank the texts they (and any view naming the person) hold,
    each write only if the view did not change since it was read (its `revision`)."""
    marked: Document = {**dict.fromkeys(VIEW_FIELDS), "erased": True}
    marked["versions.opened"] = ERASED_VERSION
    for chunk in chunked(list(erasure.ticket_ids)):
        await views.update_many({"_id": {"$in": chunk}}, {"$set": marked})
    clauses: list[Document] = [{"_id": {"$in": list(erasure.ticket_ids)}}]
    if erasure.customer_ids:
        clauses.append({"customer": {"$in": list(erasure.customer_ids)}})
    if erasure.texts:
        clauses += mentioning(VIEW_TEXTS, erasure.texts)["$or"]
    for _ in range(VIEW_TRIES):
        writes = []
        async for view in views.find({"$or": clauses}):
            after = erasure.ticket_view(view)
            changed = {k: v for k, v in after.items() if view.get(k) != v}
            if changed:
                guard = {"_id": view["_id"], "revision": view.get("revision")}
                writes.append(UpdateOne(guard, {"$set": changed, "$inc": {"revision": 1}}))
        if not writes:
            return
        result = await views.bulk_write(writes, ordered=False)
        if result.matched_count == len(writes):
            return
    raise RuntimeError("ticket views kept changing under an erasure")
