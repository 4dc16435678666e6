"""Guarded projection writes shared by the board and the ticket views: a batch's changes as one
bulk write, one update per document, each guarded by the versions it sets; a document found
newer than its guard is read again and only its still-fresh changes are written again."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, TypeVar

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from shared.mongo import DUPLICATE_KEY, Document, find_by_ids

#: Writes of one batch that may lose a race before the batch is tried again.
RACE_TRIES = 5


class _Keyed(Protocol):
    @property
    def ticket_id(self) -> str: ...


C = TypeVar("C", bound=_Keyed)
W = TypeVar("W", bound=_Keyed)


async def write_guarded(
    collection: AsyncCollection[Document],
    changes: Sequence[C],
    coalesce: Callable[[Sequence[C], Mapping[str, Document] | None], list[W]],
    update: Callable[[W], UpdateOne],
) -> None:
    """Apply `changes` to `collection`: `coalesce` makes one write per document (given the
    documents as they are, when a write lost its race), `update` its guarded upsert."""
    writes = coalesce(changes, None)
    for _ in range(RACE_TRIES):
        lost = await _write(collection, writes, update)
        if not lost:
            return
        current = await find_by_ids(collection, lost)
        writes = coalesce([c for c in changes if c.ticket_id in lost], current)
    raise RuntimeError(f"{collection.name} kept changing under this batch: {sorted(lost)[:10]}")


async def _write(
    collection: AsyncCollection[Document], writes: list[W], update: Callable[[W], UpdateOne]
) -> set[str]:
    """Write in one command; the ids of the documents whose guard did not hold (the upsert
    then meets the document's `_id` and fails with a duplicate key)."""
    if not writes:
        return set()
    try:
        await collection.bulk_write([update(w) for w in writes], ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(error.get("code") != DUPLICATE_KEY for error in errors):
            raise
        return {writes[error["index"]].ticket_id for error in errors}
    return set()
