"""The router's record of a ticket (its routing, its agent, its place in a queue) and the
orders a team's queue can be read in."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.router.domain.assignment import Needs
from services.router.domain.vocabulary import Difficulty, Priority, Tier
from shared.events import QueueOrder
from shared.events.tickets import Channel

RoutingState = Literal["queued", "assigned", "closed"]

PRIORITY_RANK: dict[Priority, int] = {"P1": 1, "P2": 2, "P3": 3, "P4": 4}
DIFFICULTY_RANK: dict[Difficulty, int] = {"easy": 0, "medium": 1, "hard": 2}
TIER_RANK: dict[Tier, int] = {"L1": 1, "L2": 2, "L3": 3}

#: Fields of the stored record a queue is sorted by, per order; the last is always arrival.
QUEUE_SORT: dict[QueueOrder, tuple[str, ...]] = {
    "fifo": ("queued_seq",),
    "priority": ("priority_rank", "queued_seq"),
    "easiest_first": ("difficulty_rank", "tier_rank", "priority_rank", "queued_seq"),
}


class RoutedTicket(BaseModel):
    """What the router decided for one ticket and where it stands now."""

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    customer_id: str
    channel: Channel
    language: str | None = None
    category: str
    subcategory: str | None = None
    skill: str | None = None
    difficulty: Difficulty = "easy"
    priority: Priority
    tier: Tier
    team: str
    state: RoutingState = "queued"
    agent_id: str | None = None
    queued_seq: int | None = Field(default=None, description="Arrival in the queue (ms clock).")
    queued_at: datetime | None = None
    queue_reason: str | None = None
    ack_due_at: datetime | None = None
    acknowledged: bool = False
    excluded: tuple[str, ...] = ()
    transfer_count: int = 0
    transfers_reported: bool = False
    #: SLA warnings (metric:cycle) that already escalated this ticket.
    escalated_for: tuple[str, ...] = ()
    history: tuple[str, ...] = Field(default=(), description="Every decision, in words.")
    #: The `ticket.routed` event as first announced, announced again on a redelivery.
    routed_event: dict[str, Any] | None = None
    #: What the ticket's wording added to the customer's technical score (counted once).
    wording: float = 0.0
    #: Agents' slot changes that recent saves of this record made final, as `agent/key`
    #: (`domain/slots.py`): how a change a crash left in flight is settled or undone.
    slot_changes: tuple[str, ...] = ()

    @property
    def priority_rank(self) -> int:
        return PRIORITY_RANK[self.priority]

    @property
    def difficulty_rank(self) -> int:
        return DIFFICULTY_RANK[self.difficulty]

    @property
    def tier_rank(self) -> int:
        return TIER_RANK[self.tier]

    def needs(self, previous_agents: tuple[str, ...] = ()) -> Needs:
        return Needs(
            ticket_id=self.ticket_id,
            channel=self.channel,
            tier=self.tier,
            skill=self.skill,
            language=self.language,
            previous_agents=previous_agents,
            excluded=frozenset(self.excluded),
        )

    def noted(self, words: str) -> tuple[str, ...]:
        return (*self.history, words)[-50:]


def queue_key(ticket: RoutedTicket, order: QueueOrder) -> tuple[int, ...]:
    """The sort key of a queued ticket in a queue of this order (the store sorts the same way)."""
    return tuple(int(getattr(ticket, name) or 0) for name in QUEUE_SORT[order])
