"""The use cases people ask the knowledge base for over HTTP: readers search, read and vote;
customers answer their self-help offer; editors write and publish articles and canned responses
and read the reports. Part of `KbService` (`service.py`), split off by role."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from services.kb.config import KbConfig
from services.kb.domain.analysis import LANGUAGES, script_language
from services.kb.domain.articles import Article, ArticleChange, Status, changed_event, edited, moved
from services.kb.domain.canned import CannedResponse
from services.kb.domain.errors import (
    BadLink,
    Conflict,
    Forbidden,
    InvalidChange,
    NotFound,
    Unavailable,
)
from services.kb.domain.reports import ArticleRow, Counter, QueryRow, one
from services.kb.domain.rules import may_publish
from services.kb.keeper import IndexKeeper
from services.kb.outbox import Outbox
from services.kb.search import Found
from services.kb.store import KbStore
from shared.agent_tokens import BadToken, TokenKeys
from shared.clock import Clock
from shared.events import KbDeflected, KbFeedback, KbSearched
from shared.language import LanguageDetector
from shared.metrics import KB_SEARCHES, KB_ZERO_RESULT_SEARCHES


@dataclass(frozen=True)
class Searched:
    query_id: str
    language: str | None
    found: Found


@dataclass(frozen=True)
class SelfHelp:
    """What a customer's self-help link shows: the published articles offered, and the one
    that solved it if they said so."""

    ticket_id: str
    reference: str
    language: str
    articles: list[Article]
    solved_by: str | None


class PeopleCases:
    """The use cases behind the HTTP routes; `KbService` holds the state they use."""

    store: KbStore
    keeper: IndexKeeper
    config: KbConfig
    out: Outbox
    clock: Clock
    _detector: LanguageDetector
    _tokens: TokenKeys | None

    def language_of(self, text: str, given: str | None = None) -> str | None:
        if given in LANGUAGES:
            return given
        return script_language(text) or self._detector.detect(text)

    # -- readers -------------------------------------------------------------------------------

    async def search(
        self, query: str, language: str | None, *, limit: int, category: str | None = None
    ) -> Searched:
        """Search and log it; an undetected language searches every language."""
        language = self.language_of(query, language)
        found = self.keeper.index.search(
            query, [language] if language else None, limit=limit, category=category
        )
        query_id = str(uuid.uuid4())
        results = len(found.hits)
        await self.store.searched(query_id, query, language, results, self.clock.now())
        await self.out.searched.publish(
            KbSearched(query_id=query_id, query=query, language=language, result_count=results)
        )
        searched = language if language in LANGUAGES else "other" if language else "any"
        KB_SEARCHES.labels(searched).inc()
        if not results:
            KB_ZERO_RESULT_SEARCHES.labels(searched).inc()
        return Searched(query_id, language, found)

    async def published(self, article_id: str) -> Article:
        article = await self.store.article(article_id)
        if article is None or article.status != "published":
            raise NotFound(f"no published article {article_id!r}")
        return article

    async def read(
        self, article_id: str, language: str | None, query_id: str | None
    ) -> tuple[Article, str]:
        """A published article in the language wanted (else its first); counts a view."""
        article = await self.published(article_id)
        chosen = language if language in article.translations else next(iter(article.translations))
        await self.store.count(one(article_id, "views"))
        if query_id:
            await self.store.opened(query_id, article_id)
        return article, chosen

    async def feedback(self, article_id: str, helpful: bool, comment: str | None) -> None:
        await self.published(article_id)
        await self.store.count(one(article_id, "helpful" if helpful else "not_helpful"))
        await self.out.feedback.publish(
            KbFeedback(article_id=article_id, helpful=helpful, comment=comment)
        )

    # -- customers -----------------------------------------------------------------------------

    def ticket_of(self, token: str) -> str:
        """The ticket a self-help link is for (signed with the current key, or with the
        previous one while a rotation lets it)."""
        if self._tokens is None:
            raise Unavailable("self-help is not configured (no agent token secret)")
        try:
            return self._tokens.verify(token, self.clock.now())
        except BadToken as exc:
            raise BadLink(f"this self-help link does not work: {exc}") from exc

    async def self_help(self, ticket_id: str) -> SelfHelp:
        """What the self-help link of `ticket_id` (`ticket_of` its token) shows."""
        ticket = await self.store.ticket(ticket_id)
        offered = [m.article_id for m in ticket.offered] if ticket else []
        articles = await self.store.articles_by_ids(offered)
        return SelfHelp(
            ticket_id=ticket_id,
            reference=(ticket.reference if ticket else None) or "",
            language=(ticket.language if ticket else None) or "en",
            articles=[
                articles[a] for a in offered if a in articles and articles[a].status == "published"
            ],
            solved_by=await self.store.deflection(ticket_id),
        )

    async def solved(self, ticket_id: str, article_id: str) -> tuple[str, bool]:
        """The customer of `ticket_id` (`ticket_of` their link) says the article solved it: a
        deflection, once per ticket."""
        ticket = await self.store.ticket(ticket_id)
        offered = {m.article_id: m for m in ticket.offered} if ticket else {}
        if article_id not in offered:
            raise NotFound(f"article {article_id!r} was not offered for this request")
        if not await self.store.deflected(ticket_id, article_id, self.clock.now()):
            return ticket_id, False
        await self.store.count(one(article_id, "deflections", "helpful"))
        await self.out.deflected.publish(
            KbDeflected(
                event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"kb.deflected:{ticket_id}"),
                ticket_id=ticket_id,
                article_id=article_id,
                language=offered[article_id].language,
            )
        )
        return ticket_id, True

    # -- editors -------------------------------------------------------------------------------

    def require_publisher(self, person_id: str) -> None:
        if not may_publish(self.config.directory, self.config.rules.editors, person_id):
            raise Forbidden("only leads, managers and editors publish or archive")

    async def article(self, article_id: str) -> Article:
        """An article in any status."""
        article = await self.store.article(article_id)
        if article is None:
            raise NotFound(f"no article {article_id!r}")
        return article

    async def listing(
        self, status: Status | None, category: str | None, limit: int
    ) -> list[Article]:
        return await self.store.articles(status=status, category=category, limit=limit)

    async def versions(self, article_id: str) -> list[Article]:
        await self.article(article_id)
        return await self.store.versions(article_id)

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

    async def change(self, article_id: str, change: ArticleChange, editor: str) -> Article:
        """An editor's change; only publishers change what is not a draft."""
        article = await self.article(article_id)
        if article.status != "draft":
            self.require_publisher(editor)
        new = edited(article, change, editor, self.clock.now())
        return await self._save(new, article.version)

    async def move(self, article_id: str, status: Status, editor: str) -> Article:
        self.require_publisher(editor)
        article = await self.article(article_id)
        new = moved(article, status, editor, self.clock.now())
        return new if new is article else await self._save(new, article.version)

    async def _save(self, article: Article, from_version: int) -> Article:
        if not await self.store.save(article, from_version):
            raise Conflict(f"article {article.article_id!r} changed meanwhile; read it again")
        await self._changed(article)
        return article

    async def _changed(self, article: Article) -> None:
        # This replica indexes at once; the others when they read the event.
        await self.keeper.apply(article)
        await self.out.changed.publish(changed_event(article))

    # -- canned responses ----------------------------------------------------------------------

    async def canned(self, language: str | None) -> list[CannedResponse]:
        return await self.store.canned(language)

    async def put_canned(self, canned_id: str, canned: CannedResponse, editor: str) -> None:
        self.require_publisher(editor)
        if canned.canned_id != canned_id:
            raise InvalidChange("canned_id in the path and the body differ")
        await self.store.put_canned(canned)

    async def delete_canned(self, canned_id: str, editor: str) -> None:
        self.require_publisher(editor)
        if not await self.store.delete_canned(canned_id):
            raise NotFound(f"no canned response {canned_id!r}")

    async def fill(self, canned_id: str, language: str, values: dict[str, str]) -> tuple[str, str]:
        """The canned response in `language` (else English) with its placeholders filled."""
        canned = await self.store.canned_response(canned_id)
        if canned is None:
            raise NotFound(f"no canned response {canned_id!r}")
        language = language if language in canned.texts else "en"
        return language, canned.render(language, values)

    # -- reports -------------------------------------------------------------------------------

    async def top_queries(self, days: int, limit: int, only_empty: bool = False) -> list[QueryRow]:
        since = self.clock.now() - timedelta(days=days)
        return await self.store.top_queries(since, limit=limit, only_empty=only_empty)

    async def article_rows(self, order: Counter, limit: int) -> list[ArticleRow]:
        return await self.store.article_rows(limit=limit, order=order)
