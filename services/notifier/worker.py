"""Sending what the outbox holds: emails and webhook calls, each channel with its own workers,
so a chat tool that hangs never holds up an email. Failures are retried with exponential
backoff and jitter; after the last try the message is dead-lettered with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from services.notifier.domain.chat import encode, next_delay, slack_payload
from services.notifier.domain.deliveries import Attempt, Job, OutboxChannel, Settlement
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
from shared.metrics import DEAD_LETTERS, DELIVERIES, DELIVERY_RETRIES

log = get_logger(__name__)

#: Due jobs read from the outbox at once when this replica has no candidates of its own. The
#: read costs the database in proportion to the jobs it matches, so a backlog (after an outage
#: of the mail relay, or jobs a dead replica left) is read once per this many, and each batch
#: is then claimed by key.
SWEEP = 500
#: While a replica has candidates of its own it still reads the due jobs this often, so a retry
#: or a dead replica's job waits at most this long behind a burst (the read's cost grows with
#: the burst's backlog, so not at every poll).
BUSY_SWEEP = timedelta(seconds=30)
#: Candidates a replica keeps in memory per channel.
CANDIDATES = 20_000
#: The delivery metric's outcome of each try's outcome.
_OUTCOMES = {"sent": "sent", "retry": "retried", "failed": "failed"}


class SendFailed(Exception):
    def __init__(self, error: str, *, permanent: bool, retry_after: float | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.permanent = permanent
        self.retry_after = retry_after


class GroupWrite:
    """Settlements of messages that finish at about the same time, written in one command.

    Each caller waits for the write that carries its own settlements: while one write is in
    flight the next callers queue, and the first of them writes for all who queued. Nothing is
    held back by a timer, so a lone message is settled at once."""

    def __init__(self, write: Callable[[Sequence[Settlement]], Awaitable[None]]) -> None:
        self._write = write
        self._lock = asyncio.Lock()
        self._queued: list[tuple[Sequence[Settlement], asyncio.Future[None]]] = []

    async def write(self, settlements: Sequence[Settlement]) -> None:
        done = asyncio.get_running_loop().create_future()
        self._queued.append((settlements, done))
        try:
            async with self._lock:
                if not done.done():
                    group, self._queued = self._queued, []
                    try:
                        await self._write([s for items, _ in group for s in items])
                    except BaseException as exc:
                        failure = exc if isinstance(exc, Exception) else RuntimeError(repr(exc))
                        for _, waiting in group:
                            if waiting is not done and not waiting.done():
                                waiting.set_exception(failure)
                        raise
                    for _, waiting in group:
                        if not waiting.done():
                            waiting.set_result(None)
        finally:
            # A caller cancelled while it queued: nobody waits for its future any more.
            if not done.done():
                done.cancel()
        await done


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
        self._settling = GroupWrite(store.settle_many)
        #: Keys of jobs that may be due, oldest first: offered by this replica's handlers, or
        #: read from the outbox when there are none (see `SWEEP`).
        self._candidates: dict[OutboxChannel, dict[str, None]] = {"email": {}, "webhook": {}}
        self._swept: dict[OutboxChannel, datetime] = {}

    def offer(self, jobs: Sequence[Job]) -> None:
        """Jobs were enqueued here: those due now are claimed by key, without a read of the
        outbox for due jobs (on the local server such a read costs in proportion to all the
        due jobs, a burst's whole backlog); and the loops look now, not at the next poll."""
        now = self._clock.now()
        for job in jobs:
            candidates = self._candidates[job.channel]
            # Beyond the cap a job waits for the sweep, which finds it as it finds any due job.
            if job.send_at <= now and len(candidates) < CANDIDATES:
                candidates[job.key] = None
        # Only the loops of these jobs' channels: each look of a loop is a read of the outbox.
        for channel in {job.channel for job in jobs}:
            self._wakes[channel].set()

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
        # Messages claimed and not yet settled: up to two per worker, so that a claim takes a
        # worker's worth of jobs at once while the messages claimed before are being sent.
        room = 2 * workers
        claimed = asyncio.Semaphore(room)
        sending = asyncio.Semaphore(workers)
        wake = self._wakes[channel]
        owner = f"{self._settings.replica_id}:{channel}"
        while True:
            wait = self._settings.poll_seconds
            wake.clear()
            try:
                while True:
                    # At least a worker's worth of room, and whatever more is free.
                    held = 0
                    while held < workers or (held < room and not claimed.locked()):
                        await claimed.acquire()
                        held += 1
                    started = 0
                    try:
                        keys = await self._next_keys(channel, held)
                        jobs = await self._outbox.claim(
                            keys, now=self._clock.now(), owner=owner, lease=self._lease
                        )
                        # Taken here, before the next claim: what folds into one digest goes
                        # to one worker as one message.
                        for message in await self._messages(jobs):
                            task = asyncio.create_task(self._run(send, message, claimed, sending))
                            started += 1
                            self._sending.add(task)
                            task.add_done_callback(self._sending.discard)
                    finally:
                        # What no message took, also when the database failed mid-claim (jobs
                        # it leased are taken again when their lease runs out).
                        for _ in range(held - started):
                            claimed.release()
                    if len(keys) < held and not self._candidates[channel]:
                        break
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
        claimed: asyncio.Semaphore,
        sending: asyncio.Semaphore,
    ) -> None:
        try:
            async with sending:
                # A message that waited for a worker until its lease was half gone is left to
                # run out and be claimed again: sending it now could overlap with a replica
                # (or this one) that claims it again after the lease.
                until = jobs[0].lease_until
                if until is not None and self._clock.now() > until - self._lease / 2:
                    log.warning("delivery.lease_short", key=jobs[0].key)
                    return
                await send(jobs)
        except Exception:
            # Left leased: taken again when the lease runs out.
            log.exception("delivery.crashed", key=jobs[0].key)
        finally:
            claimed.release()

    async def _next_keys(self, channel: OutboxChannel, count: int) -> list[str]:
        """The next `count` candidates. The due jobs of the outbox (retries, jobs whose time
        has come, jobs of replicas that died) are read, `SWEEP` at a time and ahead of newer
        candidates, when none are left, and every `BUSY_SWEEP` while there are some."""
        candidates = self._candidates[channel]
        now = self._clock.now()
        last = self._swept.get(channel)
        if not candidates or last is None or now - last >= BUSY_SWEEP:
            self._swept[channel] = now
            due = await self._outbox.due_keys(channel, now=now, limit=SWEEP)
            self._candidates[channel] = candidates = {
                **dict.fromkeys(due),
                **{key: None for key in candidates if key not in due},
            }
        keys = list(itertools.islice(candidates, count))
        for key in keys:
            del candidates[key]
        return keys

    async def _messages(self, jobs: list[Job]) -> list[list[Job]]:
        """The claimed jobs as messages: those of one fold key go together, with the other due
        jobs of that key."""
        messages: dict[tuple[str, str], list[Job]] = {}
        for job in jobs:
            by = ("fold", job.fold_key) if job.fold_key else ("job", job.key)
            messages.setdefault(by, []).append(job)
        for message in messages.values():
            head = message[0]
            if head.fold_key:
                owner = f"{self._settings.replica_id}:{head.channel}"
                message += await self._outbox.take_folding(
                    head, now=self._clock.now(), owner=owner, lease=self._lease
                )
                # The earliest job heads the message: sent again, it has the same head.
                message.sort(key=lambda j: (j.send_at, j.key))
        return list(messages.values())

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
        settlements: list[Settlement] = []
        publishing: list[Awaitable[None]] = []
        for job in jobs:
            folded_into = head.key if job is not head else None
            # The outcome is published before the job is settled: a replica that dies between
            # the two sends the job again (the same Message-ID or X-Helpdesk-Delivery) and
            # publishes the same event id again, rather than settle it and never tell.
            if failure is None:
                publishing.append(self._publish_outcome(job, None))
                attempt = Attempt(at=now, outcome="sent")
                settlements.append(
                    Settlement(key=job.key, attempt=attempt, status="sent", folded_into=folded_into)
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
                attempt = Attempt(at=now, outcome="retry", error=failure.error)
                settlements.append(
                    Settlement(
                        key=job.key,
                        attempt=attempt,
                        status="pending",
                        send_at=now + timedelta(seconds=delay),
                    )
                )
            else:
                publishing.append(self._publish_outcome(job, failure.error))
                publishing.append(self._dead_letter(job, failure.error, tries))
                attempt = Attempt(at=now, outcome="failed", error=failure.error)
                settlements.append(Settlement(key=job.key, attempt=attempt, status="failed"))
        await asyncio.gather(*publishing)
        await self._settling.write(settlements)
        for settlement in settlements:
            outcome = _OUTCOMES[settlement.attempt.outcome]
            DELIVERIES.labels(head.channel, outcome).inc()
            if outcome == "retried":
                DELIVERY_RETRIES.labels(head.channel).inc()
        if failure is None:
            log.info("delivery.sent", key=head.key, channel=head.channel, carried=len(jobs))
        else:
            log.warning("delivery.failed", key=head.key, tries=tries, error=failure.error)

    async def _publish_outcome(self, job: Job, error: str | None) -> None:
        fields = {
            "ticket_id": job.ticket_id,
            "causation_id": job.cause_event_id,
            "correlation_id": job.notice.correlation_id,
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
            correlation_id=job.notice.correlation_id,
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
        DEAD_LETTERS.labels(letter.service, letter.source_topic, letter.error_type).inc()
