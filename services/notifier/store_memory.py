"""The notifier's store in memory (dicts), with the contract of `MongoNotifierStore`: for fast
tests of the service, and checked against MongoDB by the same contract tests."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from services.notifier.domain.board import Change, Row, is_stale, merged
from services.notifier.domain.chat import WebhookTarget
from services.notifier.domain.deliveries import (
    Job,
    OutboxChannel,
    Settlement,
)
from services.notifier.domain.erasure import Erasure
from services.notifier.domain.escalations import Escalation, finished
from services.notifier.domain.ticket_view import View, ViewChange, applied
from services.notifier.domain.views import Viewer
from services.notifier.domain.workspace import Scope, matches
from services.notifier.mongo_board import BOARD_LIMIT
from services.notifier.mongo_ticket_view import LISTED_OUT
from shared.events.notifications import EscalationStatus


class MemoryNotifierStore:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.views: dict[str, View] = {}
        self.jobs_by_key: dict[str, Job] = {}
        self.ladders: dict[str, Escalation] = {}
        self.targets: dict[str, WebhookTarget] = {}

    # -- board ------------------------------------------------------------------------------

    async def apply_board(
        self, changes: Sequence[Change], views: Sequence[ViewChange] = ()
    ) -> None:
        for change in changes:
            row = self.rows.get(change.ticket_id)
            if not is_stale(row, change):
                self.rows[change.ticket_id] = merged(row, change)
        for view_change in views:
            self.views[view_change.ticket_id] = applied(
                self.views.get(view_change.ticket_id), view_change
            )

    async def board_rows(self, ticket_ids: Iterable[str]) -> dict[str, Row]:
        return {t: copy.deepcopy(self.rows[t]) for t in ticket_ids if t in self.rows}

    async def board_for(self, viewer: Viewer) -> list[Row]:
        def shown(row: Row) -> bool:
            if not row.get("open"):
                return False
            if viewer.role != "agent":
                return row.get("team") in viewer.teams
            assignee = row.get("assignee_id")
            return assignee == viewer.person_id or (
                assignee is None and row.get("team") in viewer.teams
            )

        rows = sorted(
            (r for r in self.rows.values() if shown(r)),
            key=lambda r: r["updated_at"],
            reverse=True,
        )
        return copy.deepcopy(rows[:BOARD_LIMIT])

    # -- ticket views -----------------------------------------------------------------------

    async def ticket_view(self, ticket_id: str) -> View | None:
        found = self.views.get(ticket_id)
        return copy.deepcopy(found) if found is not None else None

    async def search_ticket_views(self, scope: Scope, text: str, limit: int) -> list[View]:
        found = [
            v
            for v in self.views.values()
            if scope.sees(v.get("team"), v.get("assignee_id")) and matches(v, text)
        ]
        found.sort(key=lambda v: v["updated_at"], reverse=True)
        listed = [{k: v for k, v in view.items() if k not in LISTED_OUT} for view in found]
        return copy.deepcopy(listed[:limit])

    # -- outbox -----------------------------------------------------------------------------

    async def enqueue(self, jobs: Sequence[Job]) -> set[str]:
        existed = set()
        for job in jobs:
            if job.key in self.jobs_by_key:
                existed.add(job.key)
            else:
                self.jobs_by_key[job.key] = job.model_copy(deep=True)
        return existed

    async def last_slots(self, fold_keys: Iterable[str]) -> dict[str, datetime | None]:
        slots: dict[str, datetime | None] = {}
        for fold_key in fold_keys:
            times = [j.send_at for j in self.jobs_by_key.values() if j.fold_key == fold_key]
            slots[fold_key] = max(times) if times else None
        return slots

    def _due(self, job: Job, now: datetime) -> bool:
        if job.status == "pending":
            return job.send_at <= now
        return job.status == "leased" and job.lease_until is not None and job.lease_until <= now

    def _lease(self, job: Job, *, now: datetime, owner: str, lease: timedelta) -> Job:
        update = {"status": "leased", "lease_owner": owner, "lease_until": now + lease}
        leased = job.model_copy(update=update, deep=True)
        self.jobs_by_key[job.key] = leased
        return leased.model_copy(deep=True)

    async def due_keys(self, channel: OutboxChannel, *, now: datetime, limit: int) -> list[str]:
        due = [j for j in self.jobs_by_key.values() if j.channel == channel and self._due(j, now)]
        due.sort(key=lambda j: (j.status != "pending", j.send_at, j.key))
        return [j.key for j in due[:limit]]

    async def claim(
        self, keys: Sequence[str], *, now: datetime, owner: str, lease: timedelta
    ) -> list[Job]:
        found = [self.jobs_by_key.get(key) for key in dict.fromkeys(keys)]
        due = [j for j in found if j is not None and self._due(j, now)]
        taken = [self._lease(j, now=now, owner=owner, lease=lease) for j in due]
        return sorted(taken, key=lambda j: (j.send_at, j.key))

    async def take_folding(
        self, job: Job, *, now: datetime, owner: str, lease: timedelta, limit: int = 50
    ) -> list[Job]:
        if not job.fold_key:
            return []
        due = sorted(
            (
                j
                for j in self.jobs_by_key.values()
                if j.fold_key == job.fold_key and j.key != job.key and self._due(j, now)
            ),
            key=lambda j: j.send_at,
        )
        return [self._lease(j, now=now, owner=owner, lease=lease) for j in due[:limit]]

    async def settle_many(self, settlements: Sequence[Settlement]) -> None:
        for settlement in settlements:
            stored = self.jobs_by_key.get(settlement.key)
            if stored is None:
                continue
            update: dict[str, object] = {
                "status": settlement.status,
                "lease_owner": None,
                "lease_until": None,
                "error": settlement.attempt.error,
                "attempts": stored.attempts + 1,
                "log": [*stored.log, settlement.attempt],
            }
            if settlement.send_at is not None:
                update["send_at"] = settlement.send_at
            if settlement.folded_into is not None:
                update["folded_into"] = settlement.folded_into
            self.jobs_by_key[settlement.key] = stored.model_copy(update=update, deep=True)

    async def next_send_at(self, channel: OutboxChannel, before: datetime) -> datetime | None:
        times = [
            j.send_at
            for j in self.jobs_by_key.values()
            if j.channel == channel and j.status == "pending" and j.send_at <= before
        ]
        return min(times) if times else None

    async def jobs(self, *, ticket_id: str | None = None, limit: int = 100) -> list[Job]:
        found = [j for j in self.jobs_by_key.values() if not ticket_id or j.ticket_id == ticket_id]
        found.sort(key=lambda j: j.created_at, reverse=True)
        return [j.model_copy(deep=True) for j in found[:limit]]

    # -- escalations ------------------------------------------------------------------------

    async def open_escalations(self, escalations: Sequence[Escalation]) -> set[str]:
        existed = set()
        for escalation in escalations:
            if escalation.escalation_id in self.ladders:
                existed.add(escalation.escalation_id)
            else:
                self.ladders[escalation.escalation_id] = escalation.model_copy(deep=True)
        return existed

    async def escalation(self, escalation_id: str) -> Escalation | None:
        found = self.ladders.get(escalation_id)
        return found.model_copy(deep=True) if found else None

    async def escalations(self, escalation_ids: Iterable[str]) -> dict[str, Escalation]:
        return {
            e: self.ladders[e].model_copy(deep=True) for e in escalation_ids if e in self.ladders
        }

    async def due_escalations(self, now: datetime, limit: int = 100) -> list[Escalation]:
        due = [
            e
            for e in self.ladders.values()
            if e.status == "open" and e.next_at is not None and e.next_at <= now
        ]
        due.sort(key=lambda e: e.next_at or now)
        return [e.model_copy(deep=True) for e in due[:limit]]

    async def next_escalation_due(self, before: datetime) -> datetime | None:
        times = [
            e.next_at
            for e in self.ladders.values()
            if e.status == "open" and e.next_at and e.next_at <= before
        ]
        return min(times) if times else None

    async def climb(
        self, escalation: Escalation, *, next_at: datetime | None, told: list[str]
    ) -> bool:
        stored = self.ladders.get(escalation.escalation_id)
        if stored is None or stored.status != "open" or stored.rung != escalation.rung:
            return False
        everyone = [*stored.told, *(p for p in dict.fromkeys(told) if p not in stored.told)]
        update = {"rung": stored.rung + 1, "next_at": next_at, "told": everyone}
        self.ladders[escalation.escalation_id] = stored.model_copy(update=update)
        return True

    async def finish(
        self,
        escalation_id: str,
        status: EscalationStatus,
        *,
        at: datetime,
        by: str | None = None,
        reason: str,
    ) -> Escalation | None:
        stored = self.ladders.get(escalation_id)
        if stored is None or stored.status != "open":
            return None
        done = finished(stored, status, at=at, by=by, reason=reason)
        self.ladders[escalation_id] = done
        return done.model_copy(deep=True)

    async def open_escalations_of(self, ticket_ids: Iterable[str]) -> list[Escalation]:
        wanted = set(ticket_ids)
        return [
            e.model_copy(deep=True)
            for e in self.ladders.values()
            if e.status == "open" and e.ticket_id in wanted
        ]

    async def open_escalations_for(self, person_id: str, teams: list[str]) -> list[Escalation]:
        found = [
            e
            for e in self.ladders.values()
            if e.status == "open" and (person_id in e.told or (e.team in teams and teams))
        ]
        found.sort(key=lambda e: e.raised_at)
        return [e.model_copy(deep=True) for e in found]

    # -- webhooks ---------------------------------------------------------------------------

    async def put_webhook(self, target: WebhookTarget) -> None:
        self.targets[target.name] = target

    async def webhook(self, name: str) -> WebhookTarget | None:
        return self.targets.get(name)

    async def delete_webhook(self, name: str) -> bool:
        return self.targets.pop(name, None) is not None

    async def webhooks(self) -> list[WebhookTarget]:
        return [self.targets[name] for name in sorted(self.targets)]

    # -- erasure ----------------------------------------------------------------------------

    async def erase(self, erasure: Erasure) -> None:
        for ticket_id, row in list(self.rows.items()):
            self.rows[ticket_id] = erasure.row(row)
        for ticket_id, view in list(self.views.items()):
            after = erasure.ticket_view(view)
            if after != view:
                self.views[ticket_id] = {**after, "revision": int(view.get("revision") or 0) + 1}
        for key, job in list(self.jobs_by_key.items()):
            notice = erasure.notice(job.ticket_id, job.notice)
            self.jobs_by_key[key] = job.model_copy(update={"notice": notice})
        for escalation_id, escalation in list(self.ladders.items()):
            notice = erasure.notice(escalation.ticket_id, escalation.notice)
            self.ladders[escalation_id] = escalation.model_copy(update={"notice": notice})
