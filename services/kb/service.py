"""The knowledge base's use cases, for its subscribers and its routes alike: suggestions for new
tickets and self-help once their category is known (in bulk, per batch), drafts from resolution
notes, this replica's index, search and its log, customers' answers, editors' changes, and
erasing a customer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from services.kb.config import KbConfig
from services.kb.domain.articles import Article, changed_event, draft_from_ticket
from services.kb.domain.reports import Counts, tally
from services.kb.domain.tickets import (
    OfferClaim,
    Opened,
    Routed,
    TicketSeen,
    to_offer,
    worth_offering,
)
from services.kb.keeper import IndexKeeper
from services.kb.outbox import Outbox
from services.kb.service_erasure import ErasureCases
from services.kb.service_people import PeopleCases
from services.kb.store import KbStore
from shared.agent_tokens import TokenKeys
from shared.clock import Clock
from shared.consuming import Batch, Delivery
from shared.events import (
    ArticleMatch,
    Event,
    KbArticleChanged,
    KbSelfHelpOffered,
    KbSuggested,
    TicketEvent,
    TicketOpened,
    TicketRouted,
    TicketStatusChanged,
)
from shared.language import LanguageDetector
from shared.logging import get_logger

log = get_logger(__name__)
SELF_HELP_ISSUER = "helpdesk-kb-self-help"
Work = Callable[[Delivery[Any]], Awaitable[None]]


class KbService(PeopleCases, ErasureCases):
    """Everything the knowledge base does; what people ask over HTTP is in `PeopleCases`,
    erasing a customer in `ErasureCases`."""

    def __init__(
        self,
        *,
        store: KbStore,
        keeper: IndexKeeper,
        config: KbConfig,
        detector: LanguageDetector,
        out: Outbox,
        clock: Clock,
        self_help_tokens: TokenKeys | None = None,
        public_url: str | None = None,
        self_help_ttl: timedelta = timedelta(days=14),
    ) -> None:
        self.store, self.keeper, self.config, self.out = store, keeper, config, out
        self.rules = config.rules
        self.clock = clock
        self._detector = detector
        self._tokens = self_help_tokens
        self._public_url = public_url.rstrip("/") if public_url else None
        self._self_help_ttl = self_help_ttl

    async def seed(self) -> None:
        """Add the configured articles and canned responses whose ids are new (what editors
        changed since is theirs), then build this replica's index."""
        now = self.clock.now()
        stamp = {"created_by": "seed", "created_at": now, "updated_at": now}
        await self.store.add_missing([a.model_copy(update=stamp) for a in self.config.articles])
        await self.store.add_missing_canned(self.config.canned)
        await self.keeper.rebuild()

    # -- tickets, a batch at a time ------------------------------------------------------------

    async def ticket_events(self, batch: Batch[TicketEvent]) -> None:
        """New tickets in bulk, status changes one by one, and each ticket's events in order:
        a change of a ticket opened earlier in the batch waits for the write that notes it."""
        opened: list[Delivery[Any]] = []
        opened_tickets: set[str | None] = set()
        early = False
        late: set[int] = set()
        for delivery in batch:
            if isinstance(delivery.event, TicketOpened):
                opened.append(delivery)
                opened_tickets.add(delivery.event.ticket_id)
            elif delivery.event.ticket_id in opened_tickets:
                late.add(id(delivery))
            else:
                early = True

        def drafts(after_opened: bool) -> Work:
            async def work(delivery: Delivery[Any]) -> None:
                event = delivery.event
                if (
                    isinstance(event, TicketStatusChanged)
                    and (id(delivery) in late) is after_opened
                ):
                    await self.draft(batch, event)

            return work

        if early:
            await batch.each(drafts(after_opened=False))
        await self.suggest(batch, opened)
        if late:
            await batch.each(drafts(after_opened=True))

    async def suggest(
        self, batch: Batch[Any], deliveries: Sequence[Delivery[TicketOpened]]
    ) -> None:
        """Suggest articles for each new ticket from this replica's index; note the batch's
        tickets, count the suggestions per article and make the offers now due, in bulk."""
        notes: dict[str, Opened] = {}
        causes: dict[str, Delivery[Any]] = {}
        suggested: list[tuple[Delivery[Any], tuple[ArticleMatch, ...]]] = []
        for delivery in deliveries:
            with batch.isolate(delivery):
                event = delivery.event
                language, matches = self._suggestions(event)
                suggestion = event.caused(
                    KbSuggested, "kb.suggested", language=language, articles=list(matches)
                )
                batch.publish(self.out.suggested, suggestion)
                notes[event.ticket_id] = Opened(event.reference, language, event.subject, matches)
                causes[event.ticket_id] = delivery
                suggested.append((delivery, matches))
        if not notes:
            return
        await self.store.note_tickets(notes)
        # Only suggestions strong enough to be offered make the ticket's category worth a read.
        rules = self.rules.self_help
        counts = await self._offer(
            batch, {t: d for t, d in causes.items() if worth_offering(notes[t].suggestions, rules)}
        )
        failed = {id(d) for d, _ in batch.failed}
        for delivery, matches in suggested:
            if id(delivery) not in failed:
                tally(counts, "suggested", (m.article_id for m in matches))
        if counts:
            await self.store.count(counts)

    def _suggestions(self, event: TicketOpened) -> tuple[str | None, tuple[ArticleMatch, ...]]:
        text = f"{event.subject}\n{event.body}"
        language = self.language_of(text, event.language)
        rules = self.rules.suggestions
        found = self.keeper.index.search(text, [language] if language else None, limit=rules.limit)
        return language, tuple(
            ArticleMatch(
                article_id=h.article_id,
                title=h.title,
                language=h.language,
                score=h.score,
                snippet=h.snippet,
            )
            for h in found.hits
            if h.score >= rules.min_score
        )

    async def routed(self, batch: Batch[Any], deliveries: Sequence[Delivery[TicketRouted]]) -> None:
        """Note each routed ticket's category, and make the offers now due, in bulk."""
        notes: dict[str, Routed] = {}
        causes: dict[str, Delivery[Any]] = {}
        for delivery in deliveries:
            with batch.isolate(delivery):
                event = delivery.event
                notes[event.ticket_id] = Routed(event.category, event.subcategory)
                causes[event.ticket_id] = delivery
        if not notes:
            return
        await self.store.note_tickets(notes)
        # Only a ticket in a self-help category can be offered anything: only those are read.
        covers = self.rules.self_help.covers
        due = {t: causes[t] for t, n in notes.items() if covers(n.category, n.subcategory)}
        counts = await self._offer(batch, due)
        if counts:
            await self.store.count(counts)

    async def _offer(self, batch: Batch[Any], causes: Mapping[str, Delivery[Any]]) -> Counts:
        """Offer self-help to each of these tickets whose record holds both its suggestions and
        its category; the counts of the articles offered.

        The records are read after the batch's own write, so of the two subscribers (one notes
        the suggestions, the other the category, in either order) the one that writes last
        reads both; if both do, the claim lets one offer through."""
        if not causes or self._public_url is None or self._tokens is None:
            return {}
        tickets = await self.store.tickets(causes)
        claims: dict[str, tuple[Delivery[Any], KbSelfHelpOffered]] = {}
        again: list[tuple[Delivery[Any], KbSelfHelpOffered]] = []
        for ticket_id, ticket in tickets.items():
            delivery = causes[ticket_id]
            with batch.isolate(delivery):
                offer = self._offer_of(ticket, delivery.event)
                if offer is None:
                    continue
                if ticket.offer_id == str(offer.event_id):
                    again.append((delivery, offer))  # an earlier try claimed it: publish again
                elif ticket.offer_id is None and not ticket.offered:
                    claims[ticket_id] = (delivery, offer)
        held = (
            await self.store.claim_offers(
                {t: OfferClaim(str(o.event_id), tuple(o.articles)) for t, (_, o) in claims.items()}
            )
            if claims
            else set()
        )
        counts: Counts = {}
        for delivery, offer in [*again, *(claims[t] for t in claims if t in held)]:
            with batch.isolate(delivery):
                batch.publish(self.out.offered, offer)
        for ticket_id in held:
            tally(counts, "offered", (m.article_id for m in claims[ticket_id][1].articles))
        if held or again:
            log.info("kb.self_help_offered", tickets=len(held) + len(again))
        return counts

    def _offer_of(self, ticket: TicketSeen, cause: Event) -> KbSelfHelpOffered | None:
        articles = to_offer(ticket, self.rules.self_help)
        link = self.self_help_link(ticket.ticket_id) if articles else None
        if link is None or ticket.category is None:
            return None
        return cause.caused(
            KbSelfHelpOffered,
            "kb.self_help_offered",
            ticket_id=ticket.ticket_id,
            reference=ticket.reference or "",
            language=ticket.language or articles[0].language,
            category=ticket.category,
            articles=list(articles),
            link=link,
        )

    def self_help_link(self, ticket_id: str) -> str | None:
        if self._public_url is None or self._tokens is None:
            return None
        token = self._tokens.issue(ticket_id, ttl=self._self_help_ttl, now=self.clock.now())
        return f"{self._public_url}/self-help/{token}"

    async def draft(self, batch: Batch[Any], event: TicketStatusChanged) -> Article | None:
        """A draft article from a resolution note, for an editor to review. Its id derives from
        the ticket, so a repeated note drafts nothing twice."""
        if event.status != "resolved" or not (event.resolution_note or "").strip():
            return None
        ticket = await self.store.ticket(event.ticket_id) or TicketSeen(event.ticket_id)
        note = event.resolution_note or ""
        draft = draft_from_ticket(
            event.ticket_id,
            ticket.subject or "",
            note,
            self.language_of(note, ticket.language) or "en",
            ticket.category,
            self.clock.now(),
        )
        if not await self.store.create(draft):
            return None
        await self.keeper.apply(draft)
        batch.publish(self.out.changed, changed_event(draft, cause=event))
        log.info("kb.draft_from_ticket", ticket_id=event.ticket_id, article_id=draft.article_id)
        return draft

    async def refresh_index(self, batch: Batch[KbArticleChanged]) -> None:
        """Take the batch's changed articles into this replica's index: one read, one commit."""
        await self.keeper.refresh(*dict.fromkeys(d.event.article_id for d in batch))
