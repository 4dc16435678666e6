"""Sending what the outbox holds: emails and webhook calls, each channel with its own workers,
so a chat tool that hangs never holds up an email. Failures are retried with exponential
backoff and jitter; after the last try the message is dead-lettered with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

from services.notifier.domain.chat import encode, next_delay, slack_payload
from services.notifier.domain.deliveries import Attempt, Job, OutboxChannel
from services.notifier.email import DeliveryFailed, EmailSender, OutgoingEmail
from services.notifier.publishers import Publishers
from services.notifier.render import render_email
from services.notifier.settings import NotifierSettings
from services.notifier.store import NotifierStore
from services.notifier.webhooks import WebhookFailure, WebhookSender
from shared.clock import Clock
from shared.events import DeadLettered, NotificationDelivered, NotificationFailed
from shared.ids import derived_id
from shared.logging import get_logger

log = get_logger(__name__)


class SendFailed(Exception):
    def __init__(self, error: str, *, permanent: bool, retry_after: float | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.permanent = permanent
        self.retry_after = retry_after


class Deliveries:
    """The delivery loops of this replica, one per channel."""

    def __init__(
        self,
        *,
        store: NotifierStore,
        email: EmailSender,
        webhooks: WebhookSender,
        publishers: Publishers,
        settings: NotifierSettings,
        clock: Clock,
        rng: random.Random | None = None,
    ) -> None:
        self._outbox = store
        self._email = email
        self._webhooks = webhooks
        self._publishers = publishers
        self._settings = settings
        self._clock = clock
        self._rng = rng or random.Random()
        self._lease = timedelta(seconds=settings.lease_seconds)
        self._wakes = {"email": asyncio.Event(), "webhook": asyncio.Event()}
        self._tasks: list[asyncio.Task[None]] = []
        self._sending: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        """New jobs were enqueued here: look now instead of at the next poll."""
        for event in self._wakes.values():
            event.set()

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(
                self._loop("email", self._send_email, self._settings.email_workers),
                name="notifier.email",
            ),
            asyncio.create_task(
                self._loop("webhook", self._send_webhook, self._settings.webhook_workers),
                name="notifier.webhook",
            ),
        ]

    async def stop(self) -> None:
        for task in [*self._tasks, *self._sending]:
            task.cancel()
        for task in [*self._tasks, *self._sending]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        # Jobs cut short keep their lease; another replica (or this one restarted) takes them
        # again when it runs out.

    async def _loop(
        self, channel: OutboxChannel, send: Callable[[list[Job]], Awaitable[None]], workers: int
    ) -> None:
        slots = asyncio.Semaphore(workers)
        wake = self._wakes[channel]
        owner = f"{self._settings.replica_id}:{channel}"
        while True:
            wait = self._settings.poll_seconds
            wake.clear()
            try:
                while True:
                    await slots.acquire()
                    now = self._clock.now()
                    job = await self._outbox.take(channel, now=now, owner=owner, lease=self._lease)
                    if job is None:
                        slots.release()
                        break
                    # Taken here, before the next job is: what folds into one digest goes to
                    # one worker as one message.
                    jobs = await self._folded(job)
                    task = asyncio.create_task(self._run(send, jobs, slots))
                    self._sending.add(task)
                    task.add_done_callback(self._sending.discard)
                horizon = self._clock.now() + timedelta(seconds=wait)
                upcoming = await self._outbox.next_send_at(channel, horizon)
                if upcoming is not None:
                    until = (upcoming - self._clock.now()).total_seconds()
                    wait = min(max(until, 0.01), wait)
            except Exception:
                log.exception("deliveries.failed", channel=channel)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), wait)

    async def _run(
        self,
        send: Callable[[list[Job]], Awaitable[None]],
        jobs: list[Job],
        slots: asyncio.Semaphore,
    ) -> None:
        try:
            await send(jobs)
        except Exception:
            # Left leased: taken again when the lease runs out.
            log.exception("delivery.crashed", key=jobs[0].key)
        finally:
            slots.release()

    async def _folded(self, job: Job) -> list[Job]:
        owner = f"{self._settings.replica_id}:{job.channel}"
        more = await self._outbox.take_folding(
            job, now=self._clock.now(), owner=owner, lease=self._lease
        )
        return [job, *more]

    async def _send_email(self, jobs: list[Job]) -> None:
        job = jobs[0]
        if job.person is None:
            await self._settle(jobs, SendFailed("no recipient on an email job", permanent=True))
            return
        rendered = render_email(
            [j.notice for j in jobs], job.person, console_url=self._console_url()
        )
        mail = OutgoingEmail(
            to_address=job.person.email,
            to_name=job.person.name,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            language=rendered.language,
            delivery_key=job.key,
        )
        try:
            await self._email.send(mail)
        except DeliveryFailed as exc:
            failure = SendFailed(exc.error, permanent=exc.permanent)
            await self._settle(jobs, failure)
            return
        await self._settle(jobs, None)

    async def _send_webhook(self, jobs: list[Job]) -> None:
        job = jobs[0]
        target = await self._outbox.webhook(job.recipient)
        if target is None or not target.active:
            failure = SendFailed(f"webhook {job.recipient!r} was removed", permanent=True)
            await self._settle(jobs, failure)
            return
        body = encode(slack_payload([j.notice for j in jobs], console_url=self._console_url()))
        try:
            await self._webhooks.send(target, body, delivery_key=job.key, now=time.time())
        except WebhookFailure as exc:
            failure = SendFailed(str(exc), permanent=exc.permanent, retry_after=exc.retry_after)
            await self._settle(jobs, failure)
            return
        await self._settle(jobs, None)

    def _console_url(self) -> str | None:
        base = self._settings.public_url
        return f"{base.rstrip('/')}/console" if base else None

    async def _settle(self, jobs: list[Job], failure: SendFailed | None) -> None:
        """Record the try on every job the message carried, and publish what became of it."""
        now = self._clock.now()
        head = jobs[0]
        tries = head.attempts + 1
        limit = (
            self._settings.email_attempts
            if head.channel == "email"
            else self._settings.webhook_attempts
        )
        for job in jobs:
            folded_into = head.key if job is not head else None
            # The outcome is published before the job is settled: a replica that dies between
            # the two sends the job again (the same Message-ID or X-Helpdesk-Delivery) and
            # publishes the same event id again, rather than settle it and never tell.
            if failure is None:
                await self._publish_outcome(job, None)
                await self._outbox.settle(
                    job, Attempt(at=now, outcome="sent"), status="sent", folded_into=folded_into
                )
            elif not failure.permanent and tries < limit:
                delay = next_delay(
                    tries,
                    self._settings.retry_base_seconds,
                    self._settings.retry_cap_seconds,
                    self._rng,
                    # A server's Retry-After is honoured up to our own longest wait.
                    min(failure.retry_after or 0.0, self._settings.retry_cap_seconds),
                )
                await self._outbox.settle(
                    job,
                    Attempt(at=now, outcome="retry", error=failure.error),
                    status="pending",
                    send_at=now + timedelta(seconds=delay),
                )
            else:
                await self._publish_outcome(job, failure.error)
                await self._dead_letter(job, failure.error, tries)
                await self._outbox.settle(
                    job, Attempt(at=now, outcome="failed", error=failure.error), status="failed"
                )
        if failure is None:
            log.info("delivery.sent", key=head.key, channel=head.channel, carried=len(jobs))
        else:
            log.warning("delivery.failed", key=head.key, tries=tries, error=failure.error)

    async def _publish_outcome(self, job: Job, error: str | None) -> None:
        fields = {
            "ticket_id": job.ticket_id,
            "causation_id": job.cause_event_id,
            "recipient": job.recipient,
            "channel": job.channel,
            "address": job.address,
            "cause_event_id": job.cause_event_id,
            "attempts": job.attempts + 1,
        }
        if error is None:
            event: NotificationDelivered | NotificationFailed = NotificationDelivered(
                event_id=derived_id(job.key, "delivered"), **fields
            )
        else:
            event = NotificationFailed(
                event_id=derived_id(job.key, "failed"), error=error, **fields
            )
        publisher = self._publishers.delivered if error is None else self._publishers.failed
        await publisher.publish(event)

    async def _dead_letter(self, job: Job, reason: str, tries: int) -> None:
        """The message the notifier gave up on, whole, with why: an operator can resend it."""
        letter = DeadLettered(
            event_id=derived_id(job.key, "dead-lettered"),
            ticket_id=job.ticket_id,
            causation_id=job.cause_event_id,
            service=self._settings.service_name,
            consumer_group=self._settings.consumer_group,
            reason=f"{job.channel} to {job.recipient} failed after {tries} tries: {reason}",
            error_type="DeliveryFailed",
            source_topic=self._settings.topics.notifications,
            original_key=job.recipient,
            original_value=job.model_dump_json(exclude={"log"}),
            attempts=tries,
        )
        await self._publishers.dead_letters.publish(letter)
