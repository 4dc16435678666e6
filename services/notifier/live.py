"""What this replica pushes to the consoles it holds: board rows as tickets change, notices and
escalations as they are decided. Every replica reads every event (a consumer group of its own).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from services.notifier.board import Row, audience, change_of, holds, is_stale, merged, view
from services.notifier.board_store import BoardStore
from services.notifier.escalations import Escalations
from services.notifier.push import PushHub, message
from shared.directory import Directory
from shared.events import (
    EscalationAcknowledged,
    Event,
    NotificationPushed,
    TicketAssigned,
    TicketTransferred,
)
from shared.ids import ticket_reference
from shared.logging import get_logger

log = get_logger(__name__)

#: Rows kept in memory; beyond it the least recently changed are read again from MongoDB.
ROWS_KEPT = 50_000


class Live:
    def __init__(
        self, hub: PushHub, board: BoardStore, escalations: Escalations, directory: Directory
    ) -> None:
        self.hub = hub
        self._escalations = escalations
        self._board = board
        self._directory = directory
        self._rows: OrderedDict[str, Row] = OrderedDict()

    async def _row(self, ticket_id: str) -> Row | None:
        row = self._rows.get(ticket_id)
        if row is None:
            row = await self._board.get(ticket_id)
        return row

    def _keep(self, ticket_id: str, row: Row) -> None:
        self._rows[ticket_id] = row
        self._rows.move_to_end(ticket_id)
        while len(self._rows) > ROWS_KEPT:
            self._rows.popitem(last=False)

    async def on_ticket_event(self, event: Event) -> None:
        """A ticket, routing or SLA event: update the row, push it to who sees it now, and
        tell who saw it before and no longer does to drop it."""
        change = change_of(event)
        if change is None:
            return
        row = await self._row(change.ticket_id)
        if is_stale(row, change):
            return
        # A row read from MongoDB may hold this very change already (written by the replica
        # that handled it): then what consoles showed before is not known from it.
        known = row is not None and not holds(row, change)
        before = view(row) if row is not None and known and row.get("open", True) else None
        new = merged(row, change)
        after = view(new)
        if after["open"]:
            self._keep(change.ticket_id, new)
        else:
            self._rows.pop(change.ticket_id, None)
        now_seeing = audience(after, self._directory) if after["open"] else set()
        if before is not None:
            saw = audience(before, self._directory)
        else:
            saw = self._lost_by(event, after)
        if not self.hub.connected(now_seeing | saw):
            return
        await self.hub.broadcast(list(now_seeing), message("ticket", after))
        gone = list(saw - now_seeing)
        if gone:
            await self.hub.broadcast(gone, message("ticket", {**after, "open": False}))

    def _lost_by(self, event: Event, after: dict[str, Any]) -> set[str]:
        """Who may have shown the ticket before this event, when the row cannot tell."""
        if not after["open"]:
            return audience(after, self._directory)
        if isinstance(event, TicketTransferred):
            previous = {"team": event.from_team, "assignee_id": event.from_agent_id}
            return audience(previous, self._directory)
        if isinstance(event, TicketAssigned):
            # Out of the team's queue: the team's agents drop it.
            return audience({"team": event.team, "assignee_id": None}, self._directory)
        return set()

    async def on_notification(self, event: Event) -> dict[str, int]:
        """A notice or an escalation's change: push it to its recipients connected here."""
        if isinstance(event, NotificationPushed):
            notice = {
                "kind": event.kind,
                "ticket_id": event.ticket_id,
                "reference": _reference(event),
                "text": event.text,
            }
            reached = await self.hub.broadcast(event.recipients, message("notice", notice))
            if event.escalation_id:
                await self.hub.broadcast(event.recipients, message("escalation", _view(event)))
            return reached
        if isinstance(event, EscalationAcknowledged):
            # Written before the event was published: the record is the escalation's view.
            found = await self._escalations.get(event.escalation_id)
            update = (
                found.view()
                if found is not None
                else {
                    "escalation_id": event.escalation_id,
                    "ticket_id": event.ticket_id,
                    "reference": ticket_reference(event.ticket_id),
                    "status": event.status,
                    "acknowledged_by": event.acknowledged_by,
                    "acknowledged_at": event.occurred_at,
                }
            )
            update["reason"] = event.reason
            return await self.hub.broadcast(event.recipients, message("escalation", update))
        return {}


def _reference(event: NotificationPushed) -> str:
    return ticket_reference(event.ticket_id)


def _view(event: NotificationPushed) -> dict[str, Any]:
    return {
        "escalation_id": event.escalation_id,
        "ticket_id": event.ticket_id,
        "reference": _reference(event),
        "metric": event.metric,
        "level": event.level,
        "rung": event.rung,
        "rungs": event.rungs,
        "text": event.text,
        "status": event.status,
        "raised_at": event.occurred_at.isoformat(),
        "acknowledge_by": event.acknowledge_by.isoformat() if event.acknowledge_by else None,
        "acknowledged_by": None,
        "acknowledged_at": None,
    }
