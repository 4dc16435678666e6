"""The knowledge base's subscribers: suggest articles for every new ticket."""

from __future__ import annotations

from dataclasses import dataclass

from faststream.kafka import KafkaBroker

from services.kb.domain import ArticleIndex
from services.kb.settings import KbSettings
from shared.broker import consumer_options, publish_event
from shared.events import ArticleMatch, KbSuggested, TicketEvent, TicketOpened
from shared.idempotency import ProcessedEvents
from shared.logging import get_logger

log = get_logger(__name__)


@dataclass
class KbState:
    """What the handlers work with; the index is swapped whole when articles change."""

    index: ArticleIndex
    processed: ProcessedEvents


def register(broker: KafkaBroker, settings: KbSettings, state: KbState) -> None:
    # Declared for the AsyncAPI document; handlers publish explicitly, keyed by ticket.
    broker.publisher(settings.topics.kb, title="kb.suggested", schema=KbSuggested)

    @broker.subscriber(
        settings.topics.tickets,
        title="kb.on_ticket",
        description="Suggests articles for each new ticket.",
        **consumer_options(settings),
    )
    async def on_ticket(event: TicketEvent) -> None:
        if not isinstance(event, TicketOpened):
            return
        if await state.processed.seen("suggest", event.event_id):
            return
        hits = state.index.search(f"{event.subject} {event.body}", settings.suggestions_limit)
        suggested = event.caused(
            KbSuggested,
            "kb.suggested",
            language=event.language,
            articles=[
                ArticleMatch(
                    article_id=h.article.article_id,
                    title=h.article.title,
                    language=h.article.language,
                    score=h.score,
                )
                for h in hits
            ],
        )
        await publish_event(broker, settings.topics.kb, suggested)
        await state.processed.mark("suggest", event.event_id)
        log.info("kb.suggested", articles=[h.article.article_id for h in hits])
