"""What this replica pushes to the consoles it holds: board rows as tickets change, notices and
escalations as they are decided, and word that a ticket's view changed (`ticket_view`: the id
and the time of the latest change, nothing more) to everybody who may open it. Every replica
reads every event (a consumer group of its own) and keeps the open rows in memory; a batch
reads the rows it does not hold in one read. An erased customer's rows lose the name and
subject here too, and on the consoles showing them.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Any
from uuid import UUID

from services.notifier.domain.board import Row, change_of, holds, is_stale, merged
from services.notifier.domain.erasure import Erasure, blank_row
from services.notifier.domain.escalations import Escalation
from services.notifier.domain.ticket_view import in_ms, view_change
from services.notifier.domain.views import audience, view
from services.notifier.domain.workspace import watchers
from services.notifier.push import PushHub, message
from services.notifier.store import NotifierStore
from shared.consuming import Batch
from shared.directory import Directory
from shared.events import (
    CustomerErased,
    EscalationAcknowledged,
    Event,
    NotificationDelivered,
    NotificationPushed,
    TicketAssigned,
    TicketTransferred,
)
from shared.ids import ticket_reference
from shared.logging import get_logger
from shared.publishing import Publisher

log = get_logger(__name__)

#: Rows kept in memory; beyond it the least recently changed are read again from MongoDB.
ROWS_KEPT = 50_000
#: Notices remembered as pushed: one published again (a redelivered cause) is not shown twice.
PUSHES_KEPT = 10_000
#: Tickets of erased customers remembered: a row read from MongoDB before the shared group
#: erased it is blanked all the same.
ERASED_KEPT = 50_000


class Live:
    def __init__(
        self,
        hub: PushHub,
        store: NotifierStore,
        directory: Directory,
        *,
        delivered: Publisher,
        replica_id: str,
    ) -> None:
        self.hub = hub
        self._store = store
        self._directory = directory
        self._delivered = delivered
        self._replica_id = replica_id
        self._rows: OrderedDict[str, Row] = OrderedDict()
        self._pushed: OrderedDict[UUID, None] = OrderedDict()
        self._erased_tickets: OrderedDict[str, None] = OrderedDict()

    async def on_batch(self, batch: Batch[Event]) -> None:
        """Push what a batch changes, in order; rows and escalations not held are read once."""
        events = batch.events
        changes = [c for c in map(change_of, events) if c is not None]
        viewed = _viewed(events)
        missing = {c.ticket_id for c in changes if c.ticket_id not in self._rows}
        missing |= {t for t in viewed if t not in self._rows}
        rows = await self._store.board_rows(missing) if missing else {}
        ended = {e.escalation_id for e in events if isinstance(e, EscalationAcknowledged)}
        escalations = await self._store.escalations(ended) if ended else {}
        for delivery in batch:
            with batch.isolate(delivery):
                event = delivery.event
                if isinstance(event, NotificationPushed):
                    if self._first_push(event.event_id):
                        reached = await self.on_notification(event)
                        self._log_pushes(batch, event, reached)
                elif isinstance(event, EscalationAcknowledged):
                    await self.on_finished(event, escalations.get(event.escalation_id))
                elif isinstance(event, CustomerErased):
                    await self.on_erased(event, rows)
                else:
                    await self.on_ticket_event(event, rows)
        await self.on_views_changed(viewed, events, rows)

    def _first_push(self, event_id: UUID) -> bool:
        if event_id in self._pushed:
            return False
        self._pushed[event_id] = None
        while len(self._pushed) > PUSHES_KEPT:
            self._pushed.popitem(last=False)
        return True

    def _log_pushes(
        self, batch: Batch[Event], event: NotificationPushed, reached: dict[str, int]
    ) -> None:
        """One `notification.delivered` per person whose console here took the notice."""
        replica = self._replica_id
        for person_id, connections in reached.items():
            if connections:
                delivered = event.caused(
                    NotificationDelivered,
                    f"notification:{person_id}:push:{replica}",
                    ticket_id=event.ticket_id or None,
                    recipient=person_id,
                    channel="push",
                    address=f"console:{replica}",
                    cause_event_id=event.cause_event_id,
                    attempts=1,
                )
                batch.publish(self._delivered, delivered)

    def _keep(self, ticket_id: str, row: Row) -> None:
        self._rows[ticket_id] = row
        self._rows.move_to_end(ticket_id)
        while len(self._rows) > ROWS_KEPT:
            self._rows.popitem(last=False)

    async def on_ticket_event(self, event: Event, read: dict[str, Row]) -> None:
        """A ticket, routing or SLA event: update the row, push it to who sees it now, and
        tell who saw it before and no longer does to drop it. `read` holds the rows read for
        the batch, and the batch's latest of each."""
        change = change_of(event)
        if change is None:
            return
        row = read.get(change.ticket_id) or self._rows.get(change.ticket_id)
        if is_stale(row, change):
            return
        # A row read from MongoDB may hold this very change already (written by the replica
        # that handled it): then what consoles showed before is not known from it.
        known = row is not None and not holds(row, change)
        before = view(row) if row is not None and known and row.get("open", True) else None
        new = self._erased(merged(row, change))
        after = view(new)
        read[change.ticket_id] = new
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

    async def on_views_changed(
        self, viewed: dict[str, datetime], events: list[Event], read: dict[str, Row]
    ) -> None:
        """Tell everybody who may open each ticket (and who could before a transfer in the
        batch) that its view changed, once per ticket and batch. The workspace fetches the view
        again; one older than the `updated_at` told was not written yet, and is fetched again.
        Who may open it comes from the board row (the same team and agent as the view's)."""
        before: dict[str, set[str]] = {}
        for event in events:
            if isinstance(event, TicketTransferred) and event.ticket_id:
                lost = watchers(event.from_team, event.from_agent_id, self._directory)
                before.setdefault(event.ticket_id, set()).update(lost)
        for ticket_id, at in viewed.items():
            row = read.get(ticket_id) or self._rows.get(ticket_id)
            shown = view(row) if row is not None else {"team": None, "assignee_id": None}
            people = watchers(shown["team"], shown["assignee_id"], self._directory)
            people |= before.get(ticket_id, set())
            if self.hub.connected(people):
                # To the millisecond, as the view's own `updated_at` is kept.
                changed = {"ticket_id": ticket_id, "updated_at": in_ms(at)}
                await self.hub.broadcast(list(people), message("ticket_view", changed))

    def _erased(self, row: Row) -> Row:
        return blank_row(row) if row["_id"] in self._erased_tickets else row

    async def on_erased(self, event: CustomerErased, read: dict[str, Row]) -> None:
        """Blank the person's rows held here (and any naming them), and show the blanked rows
        on the consoles that show them."""
        erasure = Erasure.of(event)
        for ticket_id in erasure.ticket_ids:
            self._erased_tickets[ticket_id] = None
            self._erased_tickets.move_to_end(ticket_id)
        while len(self._erased_tickets) > ERASED_KEPT:
            self._erased_tickets.popitem(last=False)
        for ticket_id in read:
            read[ticket_id] = erasure.row(read[ticket_id])
        for ticket_id, row in list(self._rows.items()):
            after = erasure.row(row)
            if after is row:
                continue
            self._rows[ticket_id] = after
            shown = view(after)
            seeing = audience(shown, self._directory)
            if self.hub.connected(seeing):
                await self.hub.broadcast(list(seeing), message("ticket", shown))

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

    async def on_notification(self, event: NotificationPushed) -> dict[str, int]:
        """A notice: push it to its recipients connected here; the connections each reached."""
        notice = {
            "kind": event.kind,
            "ticket_id": event.ticket_id or None,
            "reference": _reference(event),
            "text": event.text,
        }
        reached = await self.hub.broadcast(event.recipients, message("notice", notice))
        if event.escalation_id:
            await self.hub.broadcast(event.recipients, message("escalation", _view(event)))
        return reached

    async def on_finished(
        self, event: EscalationAcknowledged, found: Escalation | None
    ) -> dict[str, int]:
        """An escalation's end: push its view (written before the event was published) to
        everybody it names who is connected here."""
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


def _viewed(events: list[Event]) -> dict[str, datetime]:
    """The tickets whose views the events change (an erasure too), each with its latest time."""
    viewed: dict[str, datetime] = {}
    for event in events:
        if isinstance(event, CustomerErased):
            times = dict.fromkeys(event.ticket_ids, event.occurred_at)
        elif event.ticket_id and view_change(event, 0) is not None:
            times = {event.ticket_id: event.occurred_at}
        else:
            continue
        for ticket_id, at in times.items():
            viewed[ticket_id] = max(at, viewed.get(ticket_id, at))
    return viewed


def _reference(event: NotificationPushed) -> str | None:
    # A notice about no ticket (an agent's sign of poor service, a report) has an empty id.
    return ticket_reference(event.ticket_id) if event.ticket_id else None


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
