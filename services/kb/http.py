"""The knowledge base's HTTP API: search the articles."""

from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import BaseModel

from services.kb.handlers import KbState


class SearchResult(BaseModel):
    article_id: str
    title: str
    language: str
    score: float


def routes(state: KbState) -> APIRouter:
    router = APIRouter(tags=["articles"])

    @router.get("/articles/search", summary="Search articles in any of the supported languages.")
    async def search(
        q: str = Query(min_length=1, max_length=500, description="What to look for."),
        limit: int = Query(default=5, ge=1, le=50),
    ) -> list[SearchResult]:
        return [
            SearchResult(
                article_id=h.article.article_id,
                title=h.article.title,
                language=h.article.language,
                score=h.score,
            )
            for h in state.index.search(q, limit)
        ]

    return router
