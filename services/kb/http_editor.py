"""The knowledge base's API for people with agent tokens: write and publish articles, canned
responses, and the analytics reports. Refusals are answered by `http.ERRORS`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from services.kb.domain.articles import Article, ArticleChange, Status
from services.kb.domain.canned import CannedResponse
from services.kb.domain.reports import ArticleRow, Counter, QueryRow
from services.kb.service import KbService

Person = Callable[..., Awaitable[str]]
Days = Annotated[int, Query(ge=1, le=3650, description="Looking back this many days.")]
Limit = Annotated[int, Query(ge=1, le=500)]


class Fill(BaseModel):
    language: str = Field(description="Language wanted; English if the answer lacks it.")
    values: dict[str, str] = Field(default_factory=dict, description="Placeholder values.")


class Filled(BaseModel):
    canned_id: str
    language: str
    text: str


def routes(kb: KbService, person: Person) -> APIRouter:
    router = APIRouter(tags=["editors"])
    caller = Depends(person)

    @router.post("/editor/articles", status_code=201, summary="Write a new article (a draft).")
    async def create(article: Article, who: str = caller) -> Article:
        return await kb.create(article, who)

    @router.get("/editor/articles", summary="Articles in any status, newest change first.")
    async def listing(
        who: str = caller,
        status_: Annotated[Status | None, Query(alias="status")] = None,
        category: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[Article]:
        return await kb.listing(status_, category, limit)

    @router.get("/editor/articles/{article_id}", summary="An article in any status.")
    async def one(article_id: str, who: str = caller) -> Article:
        return await kb.article(article_id)

    @router.get("/editor/articles/{article_id}/versions", summary="Every version, newest first.")
    async def versions(article_id: str, who: str = caller) -> list[Article]:
        return await kb.versions(article_id)

    @router.patch(
        "/editor/articles/{article_id}",
        summary="Edit: the fields given replace the article's (409 if `version` is stale).",
    )
    async def edit(article_id: str, change: ArticleChange, who: str = caller) -> Article:
        return await kb.change(article_id, change, who)

    def status_change(target: Status) -> Callable[[str, str], Awaitable[Article]]:
        async def change(article_id: str, who: str = caller) -> Article:
            return await kb.move(article_id, target, who)

        return change

    for action, target, summary in (
        ("publish", "published", "Publish: searchable at once."),
        ("archive", "archived", "Archive: no longer searchable."),
        ("unpublish", "draft", "Back to draft: no longer searchable."),
    ):
        router.post(f"/editor/articles/{{article_id}}/{action}", summary=summary)(
            status_change(target)  # type: ignore[arg-type]
        )

    # -- canned responses ----------------------------------------------------------------------

    @router.get("/canned", tags=["canned"], summary="Canned responses, in a language if given.")
    async def canned(who: str = caller, language: str | None = None) -> list[CannedResponse]:
        return await kb.canned(language)

    @router.put("/canned/{canned_id}", tags=["canned"], summary="Write or replace one.")
    async def put_canned(
        canned_id: str, canned: CannedResponse, who: str = caller
    ) -> CannedResponse:
        await kb.put_canned(canned_id, canned, who)
        return canned

    @router.delete("/canned/{canned_id}", tags=["canned"], status_code=204)
    async def delete_canned(canned_id: str, who: str = caller) -> None:
        await kb.delete_canned(canned_id, who)

    @router.post(
        "/canned/{canned_id}/fill",
        tags=["canned"],
        summary="The answer in a language with its placeholders filled in.",
    )
    async def fill(canned_id: str, body: Fill, who: str = caller) -> Filled:
        language, text = await kb.fill(canned_id, body.language, body.values)
        return Filled(canned_id=canned_id, language=language, text=text)

    # -- reports -------------------------------------------------------------------------------

    @router.get("/reports/queries", tags=["reports"], summary="What people search for most.")
    async def top(who: str = caller, days: Days = 30, limit: Limit = 20) -> list[QueryRow]:
        return await kb.top_queries(days, limit)

    @router.get(
        "/reports/no-results", tags=["reports"], summary="Searches that found nothing, most first."
    )
    async def empty(who: str = caller, days: Days = 30, limit: Limit = 20) -> list[QueryRow]:
        return await kb.top_queries(days, limit, only_empty=True)

    @router.get(
        "/reports/articles",
        tags=["reports"],
        summary="Per article: views, helpful and not-helpful votes, suggestions, deflections.",
    )
    async def articles(
        who: str = caller, order: Counter = "views", limit: Limit = 50
    ) -> list[ArticleRow]:
        return await kb.article_rows(order, limit)

    return router
