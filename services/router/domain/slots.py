"""Claims and releases of agents' slots, keyed so a repeat is recognised, and what becomes of one
that a crash or a lost race left in flight (the argument is in `services/router/store.py`)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Literal

from shared.events.tickets import Channel

Fate = Literal["wait", "settle", "undo"]
#: Saves of a ticket whose slot changes its record keeps (a save makes two at most).
KEPT_SAVES = 8
#: The revision a new ticket's changes start from (it is inserted at revision 0).
NEW = -1


@dataclass(frozen=True)
class SlotChange:
    """One change of an agent's load on a channel for a ticket: +1 a claim, -1 a release.

    `base` is the revision of the ticket the change starts from and `cause` names the input
    (a digest of it), so the same input redone on the same revision makes the same key.
    """

    agent_id: str
    channel: Channel
    ticket_id: str
    base: int
    delta: Literal[1, -1]
    cause: str
    #: Of a claim: the round-robin stamp and the capacity it must stay within (not keyed).
    sequence: int = field(default=0, compare=False)
    capacity: int = field(default=0, compare=False)

    @property
    def key(self) -> str:
        sign = "+" if self.delta > 0 else "-"
        return f"{self.ticket_id}|{self.base}|{sign}|{self.cause}"

    @property
    def record(self) -> str:
        """How the ticket's saved record names the change once the save made it final."""
        return f"{self.agent_id}/{self.key}"

    @classmethod
    def parse(cls, agent_id: str, channel: Channel, key: str) -> SlotChange:
        ticket_id, base, sign, cause = key.rsplit("|", 3)
        delta: Literal[1, -1] = 1 if sign == "+" else -1
        return cls(agent_id, channel, ticket_id, int(base), delta, cause)


def base_of(record: str) -> int:
    return int(record.rsplit("|", 3)[1])


def kept(records: Iterable[str], base: int) -> tuple[str, ...]:
    """The records a save from `base` keeps: those `fate` may still be asked about."""
    return tuple(r for r in dict.fromkeys(records) if base_of(r) >= base - KEPT_SAVES)


def fate(
    change: SlotChange, revision: int | None, saved: Collection[str], *, abandoned: bool = False
) -> Fate:
    """What becomes of a change still in flight, given the ticket's stored revision and record.

    - the ticket is still at `base` (or not created): the change from it is not saved yet, and
      its input will be redone (same key, so nothing twice): wait; unless it is `abandoned`
      (older than any input can take), then it is undone;
    - the ticket moved past `base`: exactly one save from `base` happened, and its record says
      whether it made this change final: settle (keep the count) or undo (reverse it).
    A change older than the record keeps errs towards a slot too many, never one too few.
    """
    if revision is None or revision <= change.base:
        return "undo" if abandoned else "wait"
    if revision - 1 - change.base > KEPT_SAVES:
        return "settle" if change.delta > 0 else "undo"
    return "settle" if change.record in saved else "undo"


def claim(
    agent_id: str,
    channel: Channel,
    ticket_id: str,
    base: int,
    cause: str,
    *,
    capacity: int,
    sequence: int = 0,
) -> SlotChange:
    return SlotChange(agent_id, channel, ticket_id, base, 1, cause, sequence, capacity)


def release(agent_id: str, channel: Channel, ticket_id: str, base: int, cause: str) -> SlotChange:
    return SlotChange(agent_id, channel, ticket_id, base, -1, cause)
