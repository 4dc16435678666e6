"""The notifier's store behind one Protocol: the board, the ticket views of the agents'
workspace, the outbox, escalations in flight, chat-tool webhooks, and erasing a customer from
them. `MongoNotifierStore` is the MongoDB
adapter (one module per collection beside this one); `store_memory.MemoryNotifierStore` the
in-memory fake with the same contract.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from pymongo.asynchronous.database import AsyncDatabase

from services.notifier.domain.board import Change, Row
from services.notifier.domain.chat import WebhookTarget
from services.notifier.domain.deliveries import (
    Job,
    OutboxChannel,
    Settlement,
)
from services.notifier.domain.erasure import Erasure
from services.notifier.domain.escalations import Escalation
from services.notifier.domain.ticket_view import View, ViewChange
from services.notifier.domain.views import Viewer
from services.notifier.domain.workspace import Scope
from services.notifier.mongo_board import MongoBoard
from services.notifier.mongo_erasure import erase_notices, erase_rows, erase_views
from services.notifier.mongo_escalations import MongoEscalations
from services.notifier.mongo_outbox import MongoOutbox
from services.notifier.mongo_ticket_view import MongoTicketViews
from services.notifier.mongo_webhooks import MongoWebhooks
from shared.events.notifications import EscalationStatus
from shared.mongo import Document, Indexes


class BoardStore(Protocol):
    async def apply_board(
        self, changes: Sequence[Change], views: Sequence[ViewChange] = ()
    ) -> None:
        """Apply a batch's changes in order: to the board rows (a change older than the row's
        is left out), and to the ticket views (stale facts and entries held already left out).
        One write per collection."""
        ...

    async def board_rows(self, ticket_ids: Iterable[str]) -> dict[str, Row]: ...
    async def board_for(self, viewer: Viewer) -> list[Row]:
        """Open rows the viewer's console shows, most recently changed first."""
        ...


class TicketViewStore(Protocol):
    async def ticket_view(self, ticket_id: str) -> View | None: ...
    async def search_ticket_views(self, scope: Scope, text: str, limit: int) -> list[View]:
        """Up to `limit` views in the scope whose reference starts with `text`, or whose
        customer, subject or messages contain it (no pattern; case does not matter), most
        recently changed first. Without their timelines, clocks and suggestions."""
        ...


class OutboxStore(Protocol):
    async def enqueue(self, jobs: Sequence[Job]) -> set[str]:
        """Add the jobs; returns the keys that were there already (left as they are)."""
        ...

    async def last_slots(self, fold_keys: Iterable[str]) -> dict[str, datetime | None]:
        """When the latest message that folds with each key was scheduled."""
        ...

    async def due_keys(self, channel: OutboxChannel, *, now: datetime, limit: int) -> list[str]:
        """Up to `limit` keys of jobs due on the channel: pending ones whose time has come,
        soonest first, then those whose holder's lease ran out."""
        ...

    async def claim(
        self, keys: Sequence[str], *, now: datetime, owner: str, lease: timedelta
    ) -> list[Job]:
        """Lease those of these jobs that are still due (soonest first); the others, leased by
        another replica meanwhile, sent or not due yet, are left alone."""
        ...

    async def take_folding(
        self, job: Job, *, now: datetime, owner: str, lease: timedelta, limit: int = 50
    ) -> list[Job]:
        """Lease the other due jobs that fold into the same digest as `job`."""
        ...

    async def settle_many(self, settlements: Sequence[Settlement]) -> None:
        """Record the outcomes of several tries in one write."""
        ...

    async def next_send_at(self, channel: OutboxChannel, before: datetime) -> datetime | None: ...
    async def jobs(self, *, ticket_id: str | None = None, limit: int = 100) -> list[Job]:
        """The delivery log, newest first."""
        ...


class EscalationStore(Protocol):
    async def open_escalations(self, escalations: Sequence[Escalation]) -> set[str]:
        """Start tracking ladders; returns the ids tracked already (a redelivered breach)."""
        ...

    async def escalation(self, escalation_id: str) -> Escalation | None: ...
    async def escalations(self, escalation_ids: Iterable[str]) -> dict[str, Escalation]: ...
    async def due_escalations(self, now: datetime, limit: int = 100) -> list[Escalation]: ...
    async def next_escalation_due(self, before: datetime) -> datetime | None: ...
    async def climb(
        self, escalation: Escalation, *, next_at: datetime | None, told: list[str]
    ) -> bool:
        """Move from the rung told last to the next one; false when another replica did."""
        ...

    async def finish(
        self,
        escalation_id: str,
        status: EscalationStatus,
        *,
        at: datetime,
        by: str | None = None,
        reason: str,
    ) -> Escalation | None:
        """Stop a ladder still open; the escalation after the change, None if it was not open."""
        ...

    async def open_escalations_of(self, ticket_ids: Iterable[str]) -> list[Escalation]: ...
    async def open_escalations_for(self, person_id: str, teams: list[str]) -> list[Escalation]:
        """Open escalations a person was told about, or of the teams they lead or manage."""
        ...


class WebhookStore(Protocol):
    async def put_webhook(self, target: WebhookTarget) -> None: ...
    async def webhook(self, name: str) -> WebhookTarget | None: ...
    async def delete_webhook(self, name: str) -> bool: ...
    async def webhooks(self) -> list[WebhookTarget]: ...


class ErasureStore(Protocol):
    async def erase(self, erasure: Erasure) -> None:
        """Blank the person's text in the board, the ticket views, the deliveries and the
        escalations; erasing twice changes nothing."""
        ...


class NotifierStore(
    BoardStore,
    TicketViewStore,
    OutboxStore,
    EscalationStore,
    WebhookStore,
    ErasureStore,
    Protocol,
):
    """Everything the notifier keeps."""


class MongoNotifierStore(
    MongoBoard, MongoTicketViews, MongoOutbox, MongoEscalations, MongoWebhooks
):
    """The notifier's collections in its MongoDB database."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        MongoBoard.__init__(self, db)
        MongoTicketViews.__init__(self, db)
        MongoOutbox.__init__(self, db)
        MongoEscalations.__init__(self, db)
        MongoWebhooks.__init__(self, db)

    @staticmethod
    def indexes() -> list[Indexes]:
        return [
            *MongoBoard.board_indexes(),
            *MongoTicketViews.ticket_view_indexes(),
            *MongoOutbox.outbox_indexes(),
            *MongoEscalations.escalation_indexes(),
        ]

    async def apply_board(
        self, changes: Sequence[Change], views: Sequence[ViewChange] = ()
    ) -> None:
        if changes:
            await MongoBoard.apply_board(self, changes)
        if views:
            await self.apply_ticket_views(views)

    async def erase(self, erasure: Erasure) -> None:
        # Webhooks hold no customer data; the processed-event guard only event ids.
        await erase_rows(self._rows, erasure)
        await erase_views(self._views, erasure)
        await erase_notices(self._jobs, erasure)
        await erase_notices(self._escalations, erasure)
