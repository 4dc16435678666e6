"""Keeps this replica's search index in step with the articles in MongoDB: rebuilt at start,
updated on every `kb.article_changed`, and compared with MongoDB now and then for changes whose
event it missed (while its consumer was joining, say)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from services.kb.domain.articles import Article, searchable
from services.kb.search import SearchIndex
from services.kb.store import KbStore
from shared.clock import Clock
from shared.logging import get_logger

log = get_logger(__name__)
#: How far back a comparison looks before the last one, for writes whose clocks ran behind.
OVERLAP = timedelta(seconds=10)


class IndexKeeper:
    """This replica's search index and the version of each article in it."""

    def __init__(self, index: SearchIndex, store: KbStore, clock: Clock) -> None:
        self.index = index
        self._store = store
        self._clock = clock
        self._lock = asyncio.Lock()
        #: Version of each article as indexed, so a late or repeated event changes nothing.
        self._versions: dict[str, int] = {}
        self._checked: datetime | None = None

    async def rebuild(self) -> int:
        """Index every published article afresh; returns how many translations it holds."""
        started = self._clock.now()
        articles = await self._store.every_article()
        async with self._lock:
            self.index.clear()
            self._versions.clear()
            for article in articles:
                self._put(article)
            await asyncio.to_thread(self.index.commit)
            self._checked = started
        log.info("kb.index_rebuilt", articles=len(articles), documents=len(self.index))
        return len(self.index)

    def _put(self, article: Article) -> None:
        self.index.replace(article.article_id, searchable(article))
        self._versions[article.article_id] = article.version

    async def apply(self, *articles: Article) -> int:
        """Index these articles where they are newer than what is indexed; how many were."""
        async with self._lock:
            fresh = [a for a in articles if a.version > self._versions.get(a.article_id, 0)]
            for article in fresh:
                self._put(article)
            if fresh:
                await asyncio.to_thread(self.index.commit)
        return len(fresh)

    async def refresh(self, *article_ids: str) -> int:
        """Read these articles from MongoDB in one go and index those that moved on, in one
        commit."""
        articles = await self._store.articles_by_ids(article_ids)
        return await self.apply(*articles.values()) if articles else 0

    async def reconcile(self) -> int:
        """Take every article changed since the last comparison (with some overlap)."""
        started = self._clock.now()
        since = (self._checked or started) - OVERLAP
        changed = await self._store.changed_since(since)
        taken = await self.apply(*changed)
        self._checked = started
        if taken:
            log.info("kb.index_reconciled", articles=taken)
        return taken

    async def keep_reconciling(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self.reconcile()
            except Exception:  # a database hiccup must not end the loop
                log.exception("kb.reconcile_failed")
