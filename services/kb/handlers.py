"""The knowledge base's subscribers: suggestions for new tickets, self-help once a ticket's
category is known, drafts from resolution notes (shared groups), and this replica's index kept
in step with article changes (a group of its own)."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaBroker
from pydantic import ValidationError

from services.kb.flows import Kb
from services.kb.settings import KbSettings
from shared.broker import consumer_options, publish_event
from shared.events import (
    KbArticleChanged,
    KbDeflected,
    KbSearched,
    KbSelfHelpOffered,
    KbSuggested,
    RoutingEvent,
    TicketEvent,
    TicketOpened,
    TicketRouted,
    TicketStatusChanged,
)
from shared.events.kb import KbFeedback
from shared.idempotency import ProcessedEvents
from shared.logging import get_logger

log = get_logger(__name__)
#: How long this replica's article-change fetch may wait: an edit waits on it to be findable.
INDEX_FETCH_WAIT_MS = 50


def register(broker: KafkaBroker, settings: KbSettings, kb: Kb, processed: ProcessedEvents) -> None:
    topics = settings.topics
    # Declared for the AsyncAPI docs only; events are published with `publish_event`.
    for schema in (
        KbSuggested,
        KbSearched,
        KbFeedback,
        KbSelfHelpOffered,
        KbDeflected,
        KbArticleChanged,
    ):
        broker.publisher(topics.kb, title=schema.model_fields["event_type"].default, schema=schema)

    @broker.subscriber(
        topics.tickets,
        title="kb.on_ticket",
        description="Suggests articles for each new ticket; drafts an article from each "
        "resolution note.",
        **consumer_options(settings),
    )
    async def on_ticket(event: TicketEvent) -> None:
        if not isinstance(event, TicketOpened | TicketStatusChanged):
            return
        if await processed.seen("kb", event.event_id):
            return
        if isinstance(event, TicketOpened):
            suggested = await kb.suggest(event)
            await publish_event(broker, topics.kb, suggested)
            log.info("kb.suggested", articles=[a.article_id for a in suggested.articles])
        else:
            await kb.resolved(event)
        await processed.mark("kb", event.event_id)

    @broker.subscriber(
        topics.routing,
        title="kb.on_routing",
        description="Offers self-help to customers of tickets in the configured categories.",
        **consumer_options(settings, group_id=f"{settings.consumer_group}.routing"),
    )
    async def on_routing(event: RoutingEvent) -> None:
        if isinstance(event, TicketRouted) and not await processed.seen("kb", event.event_id):
            await kb.routed(event)
            await processed.mark("kb", event.event_id)

    options = consumer_options(
        settings, group_id=settings.index_consumer_group, auto_offset_reset="latest"
    )

    @broker.subscriber(
        topics.kb,
        title="kb.on_article_changed",
        description="Every replica re-reads each changed article and updates its own index.",
        **{**options, "fetch_max_wait_ms": INDEX_FETCH_WAIT_MS},
    )
    async def on_article_changed(body: dict[str, Any]) -> None:
        # Every replica reads every message here: a bad one is logged, not dead-lettered once
        # per replica, and any other kb event is not this consumer's business.
        if not isinstance(body, dict) or body.get("event_type") != "kb.article_changed":
            return
        try:
            changed = KbArticleChanged.model_validate(body)
        except ValidationError as exc:
            log.warning("kb.unreadable_change", error=str(exc)[:500])
            return
        await kb.keeper.refresh(changed.article_id)
