"""What the outbox holds: one job per email or webhook call, keyed `event_id:recipient:channel`
(plus `#rung` for a ladder's later rungs), so an event handled twice enqueues nothing twice;
and when digestible jobs go out, so nobody gets more than one message per digest window."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from services.notifier.domain.ladders import digest_slot
from services.notifier.domain.notices import Notice, Recipient

JobStatus = Literal["pending", "leased", "sent", "failed"]
OutboxChannel = Literal["email", "webhook"]


class Attempt(BaseModel):
    at: datetime
    outcome: Literal["sent", "retry", "failed"]
    error: str | None = None


class Settlement(BaseModel):
    """A try's outcome for one job: `pending` with `send_at` schedules the next try."""

    key: str
    attempt: Attempt
    status: JobStatus
    send_at: datetime | None = None
    folded_into: str | None = None


class Job(BaseModel):
    """One message to one recipient on one channel, and what became of it."""

    key: str = Field(description="`event_id:recipient:channel` (`#rung` for later rungs).")
    channel: OutboxChannel
    recipient: str = Field(description="Person id, or the webhook's name.")
    address: str | None = Field(default=None, description="Email address or webhook URL.")
    person: Recipient | None = Field(default=None, description="The person, for an email.")
    notice: Notice
    ticket_id: str | None = Field(description="None for a notice about no ticket.")
    cause_event_id: str
    status: JobStatus = "pending"
    send_at: datetime = Field(description="Not before: a retry's backoff, working hours, digest.")
    created_at: datetime
    attempts: int = 0
    log: list[Attempt] = Field(default_factory=list, description="Every try, in order.")
    fold_key: str | None = Field(default=None, description="Jobs folded into one digest share it.")
    folded_into: str | None = Field(default=None, description="The job whose message carried it.")
    lease_owner: str | None = None
    lease_until: datetime | None = None
    error: str | None = None


def in_digest_slots(
    jobs: Sequence[Job], last_slots: Mapping[str, datetime | None], window: timedelta
) -> list[Job]:
    """The jobs with each digestible one moved to its digest slot, in order: `last_slots` is
    when the latest message of each fold key was scheduled before these jobs, and each job
    here counts for those after it."""
    slots = dict(last_slots)
    placed: list[Job] = []
    for job in jobs:
        fold_key = job.fold_key
        if fold_key is not None:
            slot = digest_slot(slots.get(fold_key), now=job.send_at, window=window)
            job = job.model_copy(update={"send_at": max(job.send_at, slot)})
            slots[fold_key] = max(job.send_at, slots.get(fold_key) or job.send_at)
        placed.append(job)
    return placed
