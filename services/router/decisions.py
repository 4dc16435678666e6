"""A placing decision in words and events (assigned, queued, transferred, transfers exceeded),
their ids derived from the input (`Cause`) and the effect: a decision redone has the same ids."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.router.domain.assignment import Choice
from services.router.domain.rules import RoutingRules
from services.router.domain.tickets import RoutedTicket
from shared.directory import Directory
from shared.events import (
    Event,
    TicketAssigned,
    TicketQueued,
    TicketTransferred,
    TicketTransfersExceeded,
    TransferCause,
)
from shared.ids import derived_id


@dataclass(frozen=True)
class Cause:
    """What a decision answers: an input event, or the router's own timer."""

    key: str
    causation_id: str | None = None
    correlation_id: str | None = None

    @classmethod
    def of(cls, event: Event) -> Cause:
        return cls(str(event.event_id), str(event.event_id), event.correlation_id)

    @property
    def digest(self) -> str:
        """A short name of the cause for agents' slot keys."""
        return derived_id(self.key).hex[:16]

    def build(self, event_cls: type[Any], effect: str, **fields: Any) -> Any:
        return event_cls(
            event_id=derived_id(self.key, effect),
            causation_id=self.causation_id,
            correlation_id=self.correlation_id,
            **fields,
        )


def assigned(
    ticket: RoutedTicket, choice: Choice, cause: Cause, rules: RoutingRules, now: datetime
) -> tuple[RoutedTicket, Event]:
    assert choice.agent_id is not None
    within = rules.assignment.acknowledge_within_seconds
    due = now + timedelta(seconds=within) if within is not None else None
    placed = ticket.model_copy(
        update={
            "state": "assigned",
            "agent_id": choice.agent_id,
            "ack_due_at": due,
            "acknowledged": False,
            "queue_reason": None,
            "history": ticket.noted(f"assigned to {choice.agent_id}: {choice.reason}"),
        }
    )
    event = cause.build(
        TicketAssigned,
        f"assigned:{ticket.ticket_id}:{ticket.transfer_count}",
        ticket_id=ticket.ticket_id,
        agent_id=choice.agent_id,
        team=ticket.team,
        tier=ticket.tier,
        acknowledge_by=due,
        reason=choice.reason,
    )
    return placed, event


def queued(
    ticket: RoutedTicket,
    choice: Choice,
    cause: Cause,
    rules: RoutingRules,
    now: datetime,
    sequence: int,
) -> tuple[RoutedTicket, Event]:
    order = rules.queues.order_for(ticket.team)
    waiting = ticket.model_copy(
        update={
            "state": "queued",
            "agent_id": None,
            "queued_seq": ticket.queued_seq or sequence,
            "queued_at": ticket.queued_at or now,
            "queue_reason": choice.reason,
            "ack_due_at": None,
            "history": ticket.noted(f"queued in {ticket.team}: {choice.reason}"),
        }
    )
    event = cause.build(
        TicketQueued,
        f"queued:{ticket.ticket_id}:{ticket.transfer_count}",
        ticket_id=ticket.ticket_id,
        team=ticket.team,
        tier=ticket.tier,
        priority=ticket.priority,
        order=order,
        reason=choice.reason,
    )
    return waiting, event


def transferred(
    before: RoutedTicket, after: RoutedTicket, cause: Cause, kind: TransferCause, reason: str
) -> Event:
    where = f"to {after.agent_id}" if after.agent_id else f"to the {after.team} queue"
    event: Event = cause.build(
        TicketTransferred,
        f"transferred:{before.ticket_id}:{after.transfer_count}",
        ticket_id=before.ticket_id,
        from_agent_id=before.agent_id,
        to_agent_id=after.agent_id,
        from_team=before.team,
        to_team=after.team,
        transfer_count=after.transfer_count,
        cause=kind,
        reason=f"{reason}; {where}",
    )
    return event


def reported(
    ticket: RoutedTicket, cause: Cause, rules: RoutingRules, directory: Directory
) -> tuple[RoutedTicket, Event | None]:
    """The ticket marked reported and the report to its manager, once past the limit."""
    limit = rules.transfers.report_after
    team = directory.team(ticket.team)
    if ticket.transfer_count <= limit or ticket.transfers_reported or team is None:
        return ticket, None
    moves = [line for line in ticket.history if ":" in line and "assigned to" not in line]
    report = cause.build(
        TicketTransfersExceeded,
        f"transfers-exceeded:{ticket.ticket_id}",
        ticket_id=ticket.ticket_id,
        team=team.name,
        manager_id=team.manager.person_id,
        transfer_count=ticket.transfer_count,
        limit=limit,
        reason=f"transferred {ticket.transfer_count} times (limit {limit}): "
        + " | ".join(moves[-ticket.transfer_count :]),
    )
    return ticket.model_copy(update={"transfers_reported": True}), report
