"""The help desk's own Prometheus metrics, in one place; the `/metrics` body of a process; the
consumer lag the consumer kit keeps.

Each metric says what it counts and where that is decided. FastStream's middleware adds the
Kafka-side metrics (`faststream_*`, see `shared.broker`), `shared.mongo` the database's
(`helpdesk_db_*`) and `shared.publishing` the events published (`helpdesk_events_published`).
prometheus_client adds `_total` to every counter's name when it exports it.

Several worker processes of one replica (one pod) share `PROMETHEUS_MULTIPROC_DIR`: each writes
its values there, and `/metrics` serves the sum of them all. The gauges state how theirs add up
(`multiprocess_mode`): both here are "what this pod holds", the sum over its live processes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
    values,
)

# A `_created` series beside every counter and histogram doubles what is scraped and stored,
# and no dashboard or rule reads it (`rate()` copes with restarts by itself).
disable_created_metrics()

CONTACTS = Counter(
    "helpdesk_contacts",
    "Contacts intake decided, by channel and outcome: `ticket` (opened one), `joined` (threaded "
    "into an existing ticket, reopening or closing it), `suppressed` (automatic mail, a loop, a "
    "contact submitted again) or `dead_lettered`.",
    ["channel", "outcome"],
)

ROUTING_DECISIONS = Counter(
    "helpdesk_routing_decisions",
    "Routing decisions the router saved, by outcome: `assigned`, `queued`, `transferred`, "
    "`escalated` (a tier up) and `transfers_exceeded` (reported to the team's manager).",
    ["outcome"],
)

TIME_TO_ASSIGNMENT = Histogram(
    "helpdesk_time_to_assignment_seconds",
    "From a ticket's opening to its first agent.",
    buckets=(0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 8 * 3600, 86400),
)

SLA_DEADLINES_ARMED = Gauge(
    "helpdesk_sla_deadlines_armed",
    "Tickets whose next SLA moment this process holds in its timer (its partitions' tickets).",
    multiprocess_mode="livesum",
)

SLA_FIRING_LATENESS = Histogram(
    "helpdesk_sla_firing_lateness_seconds",
    "How late a deadline's events went out, against the moment they were due.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

SLA_WARNINGS = Counter(
    "helpdesk_sla_warnings",
    "SLA warnings announced, by target (first_response, next_reply, resolution).",
    ["target"],
)

SLA_BREACHES = Counter(
    "helpdesk_sla_breaches",
    "SLA breaches announced, by target (first_response, next_reply, resolution).",
    ["target"],
)

DELIVERIES = Counter(
    "helpdesk_deliveries",
    "Notifications the notifier tried to deliver, by channel and outcome: email and webhook "
    "jobs `sent`, `retried` (a try failed, another is scheduled) or `failed` (given up, "
    "dead-lettered); push messages `sent` to a console or `dropped` with its connection.",
    ["channel", "outcome"],
)

DELIVERY_RETRIES = Counter(
    "helpdesk_delivery_retries",
    "Tries of an email or webhook job that failed and were scheduled again, by channel.",
    ["channel"],
)

KB_SEARCHES = Counter(
    "helpdesk_kb_searches",
    "Knowledge-base searches by people, by language searched (`any`: every language).",
    ["language"],
)

KB_ZERO_RESULT_SEARCHES = Counter(
    "helpdesk_kb_zero_result_searches",
    "Knowledge-base searches by people that found nothing, by language searched.",
    ["language"],
)

CONSUMER_LAG = Gauge(
    "helpdesk_consumer_lag",
    "Records not yet handed to the consumer, per group and partition this process is assigned "
    "(the partition's high watermark minus the position after the last batch taken from it).",
    ["group", "topic", "partition"],
    multiprocess_mode="livesum",
)

DEAD_LETTERS = Counter(
    "helpdesk_dead_letters",
    "Records sent to the dead-letter topic, by service, source topic and the error's type.",
    ["service", "topic", "reason_type"],
)


def multiprocess_mode() -> bool:
    """Whether this process writes its values to `PROMETHEUS_MULTIPROC_DIR` (prometheus_client
    decides it once, from the environment, when it is first imported)."""
    return values.ValueClass is not values.MutexValue


def exposition() -> tuple[bytes, str]:
    """The `/metrics` body and its content type: this process's metrics, or in multiprocess
    mode those of every process sharing the directory, added up."""
    if multiprocess_mode():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


# -- consumer lag, kept by the consumer kit -------------------------------------------------


def note_lag(group: str, consumer: Any, records: Sequence[Any]) -> None:
    """Each partition's lag behind its high watermark once this batch is taken: both offsets
    are the consumer's own (the watermark comes with every fetch), so this asks nothing."""
    highwater = getattr(consumer, "highwater", None)
    if highwater is None:
        return  # the in-memory test broker's consumer keeps no offsets
    last: dict[tuple[str, int], int] = {}
    for record in records:
        where = (record.topic, record.partition)
        last[where] = max(last.get(where, -1), record.offset)
    for (topic, partition), offset in last.items():
        try:
            high = highwater(TopicPartition(topic, partition))
        except AssertionError:
            continue  # revoked while the batch was handled
        if high is not None:
            CONSUMER_LAG.labels(group, topic, str(partition)).set(max(0, high - offset - 1))


class LagOfAssigned(ConsumerRebalanceListener):
    """Drops the lag of partitions taken from this consumer (another replica reports them
    now), then tells the subscriber's own listener, if it has one. `on_joined` is told of
    every join of the group (each ends in an assignment, an empty one for a replica beyond the
    partitions): what readiness waits for."""

    def __init__(
        self,
        group: str,
        inner: ConsumerRebalanceListener | None,
        *,
        on_joined: Callable[[], object] | None = None,
    ) -> None:
        self._group = group
        self._inner = inner
        self._on_joined = on_joined

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        for tp in revoked:
            labels = (self._group, tp.topic, str(tp.partition))
            if multiprocess_mode():
                # A label set stays in the shared files: at zero, it adds nothing to the sum.
                CONSUMER_LAG.labels(*labels).set(0)
            else:
                CONSUMER_LAG.remove(*labels)
        if self._inner is not None:
            await _settled(self._inner.on_partitions_revoked(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        if self._on_joined is not None:
            self._on_joined()
        if self._inner is not None:
            await _settled(self._inner.on_partitions_assigned(assigned))


async def _settled(result: Any) -> None:
    if asyncio.iscoroutine(result):
        await result
