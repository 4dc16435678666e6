"""What the SLA service reads from the tickets and routing topics, and which transition each
input takes; a ticket brought up to date with changed policies first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from services.sla.domain import transitions
from services.sla.domain.ticket import Decision, Rules, TicketSla, recompute
from shared.events import (
    TicketAgentReplied,
    TicketAssigned,
    TicketContactAppended,
    TicketOpened,
    TicketPriorityChanged,
    TicketRouted,
    TicketStatusChanged,
    TicketTransferred,
)

#: The inputs that move a ticket's SLA. Every other event of the two topics (notes, CSAT,
#: queueing, escalations, transfer requests) changes nothing the SLA measures.
SlaInput = Annotated[
    TicketOpened
    | TicketContactAppended
    | TicketAgentReplied
    | TicketStatusChanged
    | TicketPriorityChanged
    | TicketRouted
    | TicketAssigned
    | TicketTransferred,
    Field(discriminator="event_type"),
]
ACTED_ON = frozenset(
    {
        "ticket.opened",
        "ticket.contact_appended",
        "ticket.agent_replied",
        "ticket.status_changed",
        "ticket.priority_changed",
        "ticket.routed",
        "ticket.assigned",
        "ticket.transferred",
    }
)
#: Input ids a ticket remembers beyond those of its latest save: more than Kafka redelivers
#: after a crash, which is the batch that was not committed (all of whose ids are kept).
APPLIED_KEPT = 32


def decide(ticket: TicketSla, event: Any, rules: Rules, now: datetime, partition: int) -> Decision:
    """Bring a ticket stored under older policies up to date, then apply the input.

    The recomputation has the ids the timer would give it (`transitions.advance`), so a
    ticket brought up to date by both announces it once.
    """
    if ticket.started and ticket.state != "done" and ticket.version != rules.version:
        effect = f"{ticket.ticket_id}:{rules.version}:recomputed"
        ticket, notes = recompute(ticket, rules, now, "SLA policies or calendars changed", effect)
        decision = _apply(ticket, event, rules, now, partition)
        return Decision(decision.ticket, notes + decision.notes, decision.finished)
    return _apply(ticket, event, rules, now, partition)


def _apply(ticket: TicketSla, event: Any, rules: Rules, now: datetime, partition: int) -> Decision:
    if isinstance(event, TicketRouted):
        return transitions.routed(ticket, event, rules, now, partition)
    if isinstance(event, TicketOpened):
        return transitions.opened(ticket, event, rules, now)
    if isinstance(event, TicketAgentReplied):
        return transitions.agent_replied(ticket, event, rules, now)
    if isinstance(event, TicketContactAppended):
        return transitions.customer_wrote(ticket, event, rules, now)
    if isinstance(event, TicketStatusChanged):
        return transitions.status_changed(ticket, event, rules, now)
    if isinstance(event, TicketPriorityChanged):
        return transitions.priority_changed(ticket, event, rules, now)
    if isinstance(event, TicketAssigned):
        return transitions.assigned(ticket, event, rules, now)
    if isinstance(event, TicketTransferred):
        return transitions.transferred(ticket, event, rules, now)
    # A ValueError: the record is dead-lettered with this reason, the rest of its batch goes on.
    raise ValueError(f"the SLA service cannot handle {type(event).__name__}")


def remember(ticket: TicketSla, event_ids: Sequence[str]) -> TicketSla:
    """The ticket with these inputs' ids among its latest, so a redelivery skips them. Every id
    of one save is kept, however many: a redelivered batch must find all of its own."""
    keep = max(APPLIED_KEPT, len(event_ids))
    return ticket.model_copy(update={"applied": (*ticket.applied, *event_ids)[-keep:]})
