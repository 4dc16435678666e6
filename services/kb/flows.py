"""What the knowledge base does, for its HTTP API and its subscribers alike: search and log it,
suggest for tickets and offer self-help, draft from resolved tickets, and editors' changes."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from services.kb.analysis import LANGUAGES, script_language
from services.kb.analytics import Analytics
from services.kb.config import KbRules
from services.kb.domain import Article, ArticleChange, Status, draft_from_ticket, edited, moved
from services.kb.keeper import IndexKeeper
from services.kb.search import Found
from services.kb.store import KbStore
from shared.agent_tokens import AgentTokens
from shared.clock import Clock
from shared.events import (
    ArticleMatch,
    Event,
    KbArticleChanged,
    KbDeflected,
    KbSearched,
    KbSelfHelpOffered,
    KbSuggested,
    TicketOpened,
    TicketRouted,
    TicketStatusChanged,
)
from shared.language import LanguageDetector
from shared.logging import get_logger

log = get_logger(__name__)
Publish = Callable[[Event], Awaitable[None]]
SELF_HELP_ISSUER = "helpdesk-kb-self-help"


class Conflict(Exception):
    """The change cannot be made as asked (taken id, stale version)."""


@dataclass
class Searched:
    query_id: str
    language: str | None
    found: Found


class Kb:
    def __init__(
        self,
        *,
        store: KbStore,
        analytics: Analytics,
        keeper: IndexKeeper,
        rules: KbRules,
        detector: LanguageDetector,
        publish: Publish,
        clock: Clock,
        self_help_tokens: AgentTokens | None,
        public_url: str | None,
        self_help_ttl: timedelta,
    ) -> None:
        self.store, self.analytics, self.keeper, self.rules = store, analytics, keeper, rules
        self._detector = detector
        self.publish = publish
        self.clock = clock
        self.self_help_tokens = self_help_tokens
        self._public_url = public_url.rstrip("/") if public_url else None
        self._self_help_ttl = self_help_ttl

    # -- search --------------------------------------------------------------------------------

    def language_of(self, text: str, given: str | None = None) -> str | None:
        if given in LANGUAGES:
            return given
        return script_language(text) or self._detector.detect(text)

    async def search(
        self, query: str, language: str | None, *, limit: int, category: str | None = None
    ) -> Searched:
        """Search and log it; an undetected language searches every language."""
        language = self.language_of(query, language)
        found = self.keeper.index.search(
            query, [language] if language else None, limit=limit, category=category
        )
        query_id = str(uuid.uuid4())
        now = self.clock.now()
        await self.analytics.searched(query_id, query, language, len(found.hits), now)
        await self.publish(
            KbSearched(
                query_id=query_id, query=query, language=language, result_count=len(found.hits)
            )
        )
        return Searched(query_id, language, found)

    # -- tickets -------------------------------------------------------------------------------

    async def suggest(self, event: TicketOpened) -> KbSuggested:
        text = f"{event.subject}\n{event.body}"
        language = self.language_of(text, event.language)
        rules = self.rules.suggestions
        found = self.keeper.index.search(text, [language] if language else None, limit=rules.limit)
        matches = [
            ArticleMatch(
                article_id=h.article_id,
                title=h.title,
                language=h.language,
                score=h.score,
                snippet=h.snippet,
            )
            for h in found.hits
            if h.score >= rules.min_score
        ]
        for match in matches:
            await self.analytics.count(match.article_id, "suggested")
        record = await self.store.note_ticket(
            event.ticket_id,
            {
                "reference": event.reference,
                "language": language,
                "subject": event.subject,
                "suggestions": [m.model_dump() for m in matches],
            },
        )
        await self._offer(record, event)
        return event.caused(KbSuggested, "kb.suggested", language=language, articles=matches)

    async def routed(self, event: TicketRouted) -> None:
        record = await self.store.note_ticket(
            event.ticket_id, {"category": event.category, "subcategory": event.subcategory}
        )
        await self._offer(record, event)

    async def _offer(self, record: dict[str, object], cause: Event) -> None:
        """Offer self-help once both the suggestions and the category are known, if wanted."""
        if "suggestions" not in record or "category" not in record:
            return
        rules = self.rules.self_help
        category, subcategory = str(record["category"]), record.get("subcategory")
        if not rules.covers(category, subcategory if isinstance(subcategory, str) else None):
            return
        suggestions = record["suggestions"]
        assert isinstance(suggestions, list)
        offered = [ArticleMatch.model_validate(s) for s in suggestions]
        offered = [m for m in offered if m.score >= rules.min_score]
        link = self.self_help_link(str(record["_id"]))
        if not offered or link is None:
            return
        if not await self.store.claim_offer(str(record["_id"]), [m.model_dump() for m in offered]):
            return
        for match in offered:
            await self.analytics.count(match.article_id, "offered")
        offer = cause.caused(
            KbSelfHelpOffered,
            "kb.self_help_offered",
            ticket_id=str(record["_id"]),
            reference=str(record.get("reference") or ""),
            language=str(record.get("language") or offered[0].language),
            category=category,
            articles=offered,
            link=link,
        )
        await self.publish(offer)
        log.info("kb.self_help_offered", ticket_id=offer.ticket_id, articles=len(offered))

    def self_help_link(self, ticket_id: str) -> str | None:
        if self._public_url is None or self.self_help_tokens is None:
            return None
        token = self.self_help_tokens.issue(
            ticket_id, ttl=self._self_help_ttl, now=self.clock.now()
        )
        return f"{self._public_url}/self-help/{token}"

    async def solved(self, ticket_id: str, article_id: str) -> bool:
        """The customer says the article solved it: a deflection, once per ticket."""
        record = await self.store.ticket(ticket_id)
        offered = {s["article_id"]: s for s in (record or {}).get("offered", [])}
        if article_id not in offered:
            raise KeyError(f"article {article_id!r} was not offered for this request")
        if not await self.analytics.deflected(ticket_id, article_id, self.clock.now()):
            return False
        await self.analytics.count(article_id, "helpful")
        await self.publish(
            KbDeflected(
                event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"kb.deflected:{ticket_id}"),
                ticket_id=ticket_id,
                article_id=article_id,
                language=offered[article_id].get("language"),
            )
        )
        return True

    async def resolved(self, event: TicketStatusChanged) -> Article | None:
        """A draft article from a resolution note, for an editor to review."""
        if event.status != "resolved" or not (event.resolution_note or "").strip():
            return None
        record = await self.store.ticket(event.ticket_id) or {}
        note = event.resolution_note or ""
        draft = draft_from_ticket(
            event.ticket_id,
            str(record.get("subject") or ""),
            note,
            self.language_of(note, record.get("language")) or "en",
            record.get("category"),
            self.clock.now(),
        )
        if not await self.store.create(draft):
            return None
        await self._changed(draft, cause=event)
        log.info("kb.draft_from_ticket", ticket_id=event.ticket_id, article_id=draft.article_id)
        return draft

    # -- editors -------------------------------------------------------------------------------

    async def create(self, article: Article, editor: str) -> Article:
        now = self.clock.now()
        article = article.model_copy(
            update={
                "status": "draft",
                "version": 1,
                "created_by": editor,
                "updated_by": editor,
                "created_at": now,
                "updated_at": now,
            }
        )
        if not await self.store.create(article):
            raise Conflict(f"article {article.article_id!r} exists")
        await self._changed(article)
        return article

    async def change(self, article: Article, change: ArticleChange, editor: str) -> Article:
        new = edited(article, change, editor, self.clock.now())
        return await self._save(new, article.version)

    async def move(self, article: Article, status: Status, editor: str) -> Article:
        new = moved(article, status, editor, self.clock.now())
        return new if new is article else await self._save(new, article.version)

    async def _save(self, article: Article, from_version: int) -> Article:
        if not await self.store.save(article, from_version):
            raise Conflict(f"article {article.article_id!r} changed meanwhile; read it again")
        await self._changed(article)
        return article

    async def _changed(self, article: Article, cause: Event | None = None) -> None:
        # This replica indexes at once; the others when they read the event.
        await self.keeper.apply(article)
        fields = {"article_id": article.article_id, "version": article.version}
        effect = f"kb.article_changed:{article.article_id}:{article.version}"
        changed = (
            cause.caused(KbArticleChanged, effect, ticket_id=None, status=article.status, **fields)
            if cause
            else KbArticleChanged(status=article.status, **fields)
        )
        await self.publish(changed)
