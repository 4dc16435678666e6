"""The timer index's layout: which bucket document holds a ticket's next moment, and the writes
that bring the buckets in line with a batch of saved tickets, one write per bucket.

A bucket document maps ticket ids to their next moment, for one partition, so that a replica
assigned a partition reads a few thousand documents instead of a million tickets. Updating a
bucket costs the database in proportion to its size (SecantusDB decodes and re-encodes the
whole document: 3 ms at one entry, 13 ms at 325, 90 ms at 3,000), so a bucket must not grow
with the number of armed tickets. Earlier versions hashed every ticket into one of 1,024
buckets per partition, which grow without bound; now a ticket is given a *home* bucket the
first time it is armed, recorded in its document, and each home takes at most `CAPACITY`
tickets for life:

    replica a1b2 arms tickets t1..t40 on partition 0, then t41 on partition 2:
      t1..t32 -> "0:a1b2:0"     (32 entries: full, never given another ticket)
      t33..t40 -> "0:a1b2:1"
      t41 -> "2:a1b2:0"
    t5 is resolved: its entry leaves "0:a1b2:0"; re-opened, it comes back to the same home.

Homes are named by a token drawn when the store is built, so two replicas, or one restarted,
never hand out the same one. A ticket stored without a home (by an earlier version) is in its
hashed bucket, and moves to a home the next time its moment changes, so old buckets empty by
themselves; an emptied bucket is deleted. A batch's new tickets share a few homes, so arming
100 tickets writes 4 documents, not 100.
"""

from __future__ import annotations

import secrets
import zlib
from dataclasses import dataclass, field
from typing import Any

from pymongo import UpdateOne

from services.sla.domain.ticket import TicketSla

#: Hashed buckets per partition of tickets stored without a home (earlier versions).
BUCKETS = 1024
#: Tickets a home bucket is given for life: its size, and so the cost of writing it, is
#: bounded whatever the number of armed tickets. 32 keeps a write near the cost of a
#: one-entry document, and reloading a million deadlines under 10 s (31,250 documents).
CAPACITY = 32


def timer_bucket(partition: int | None, ticket_id: str) -> str:
    """The hashed bucket of a ticket stored without a home (by an earlier version)."""
    return f"{partition}:{zlib.crc32(ticket_id.encode()) % BUCKETS}"


def timer_field(ticket_id: str) -> str:
    """A ticket id as a field name: MongoDB gives `.` and a leading `$` a meaning of their own."""
    return ticket_id.replace("%", "%25").replace(".", "%2E").replace("$", "%24")


def ticket_of_field(field: str) -> str:
    return field.replace("%24", "$").replace("%2E", ".").replace("%25", "%")


def timer_entry(ticket: TicketSla) -> list[Any]:
    """What the index keeps of an armed ticket: its next moment (epoch ms) and policy version."""
    assert ticket.next_at is not None
    return [round(ticket.next_at.timestamp() * 1000), ticket.version or ""]


class Homes:
    """Hands out home buckets per partition, each to at most `CAPACITY` tickets."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token or secrets.token_hex(4)
        self._current: dict[int | None, tuple[int, int]] = {}

    def take(self, partition: int | None) -> str:
        number, given = self._current.get(partition, (0, 0))
        if given >= CAPACITY:
            number, given = number + 1, 0
        self._current[partition] = (number, given + 1)
        return f"{partition}:{self.token}:{number}"


@dataclass
class _Bucket:
    partition: int | None = None
    sets: dict[str, Any] = field(default_factory=dict)
    unsets: dict[str, str] = field(default_factory=dict)


@dataclass
class TimerPlan:
    """The index writes of one batch of saves, gathered per bucket."""

    homes: Homes
    buckets: dict[str, _Bucket] = field(default_factory=dict)
    #: The bucket each ticket's entry is written into.
    written: dict[str, str] = field(default_factory=dict)

    def place(
        self,
        ticket: TicketSla,
        before: TicketSla | None,
        home: str | None,
        *,
        stray: str | None = None,
        redo: bool = False,
    ) -> str | None:
        """Plan the entry of `ticket` (saved over `before`, whose home was `home`); return the
        home to record. `redo`: an attempt that lost a race came first, so the entry is written
        whatever it was, and `stray`, a bucket that attempt wrote it into, is cleared."""
        key = timer_field(ticket.ticket_id)
        had = before is not None and before.next_at is not None
        where = None
        if before is not None:
            where = home or timer_bucket(before.partition, ticket.ticket_id)
        gone = {b for b in (where if had else None, stray) if b is not None}
        moved = before is not None and before.partition != ticket.partition
        if ticket.next_at is None:
            for bucket in gone:
                self._bucket(bucket).unsets[f"entries.{key}"] = ""
            # A home is kept for the ticket's next arming, unless it is another partition's.
            return None if moved else home
        new_home = home if home is not None and not moved else self.homes.take(ticket.partition)
        for bucket in gone - {new_home}:
            self._bucket(bucket).unsets[f"entries.{key}"] = ""
        same = (
            had
            and not redo
            and where == new_home
            and before is not None
            and (before.next_at, before.version) == (ticket.next_at, ticket.version)
        )
        if not same:
            target = self._bucket(new_home)
            target.partition = ticket.partition
            target.sets[f"entries.{key}"] = timer_entry(ticket)
            self.written[ticket.ticket_id] = new_home
        return new_home

    def _bucket(self, bucket: str) -> _Bucket:
        return self.buckets.setdefault(bucket, _Bucket())

    def writes(self) -> list[UpdateOne]:
        """One update per bucket touched; only one that gains an entry may create it."""
        out = []
        for bucket_id, bucket in self.buckets.items():
            update: dict[str, Any] = {}
            if bucket.sets:
                update["$set"] = {**bucket.sets, "partition": bucket.partition}
            if bucket.unsets:
                update["$unset"] = bucket.unsets
            out.append(UpdateOne({"_id": bucket_id}, update, upsert=bool(bucket.sets)))
        return out

    def emptied(self) -> list[str]:
        """Buckets that lost entries and gained none: deleted if nothing is left in them."""
        return [b for b, bucket in self.buckets.items() if bucket.unsets and not bucket.sets]
