"""The knowledge base's API for staff (anyone in the directory with a token): write and
publish articles, canned responses, and the analytics reports. Refusals are answered by
`http.ERRORS`; each route states its access rule (`shared.access`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query
from pydantic import BaseModel, Field

from services.kb.domain.articles import Article, ArticleChange, Status
from services.kb.domain.canned import CannedResponse
from services.kb.domain.reports import ArticleRow, Counter, QueryRow
from services.kb.service import KbService
from shared.access import Access, Person
from shared.errors import Problem

Days = Annotated[int, Query(ge=1, le=3650, description="Looking back this many days.")]
Limit = Annotated[int, Query(ge=1, le=500)]
#: Who may publish, archive, unpublish, edit what is not a draft, and write canned responses.
PUBLISHERS = (
    "Only a team's lead or manager, or an editor listed in `config/kb/kb.yaml`, may do this "
    "(anyone else with a token: 403)."
)
#: The reports are the knowledge base's own, kept per search and per article, not per team.
SERVICE_WIDE = (
    "Service-wide figures: the knowledge base keeps no team per search or article, so a lead "
    "or manager sees the same figures as an operator."
)
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "The id is taken, the version is stale, or the move is not allowed.",
        "model": Problem,
    }
}


class Fill(BaseModel):
    language: str = Field(description="Language wanted; English if the answer lacks it.")
    values: dict[str, str] = Field(default_factory=dict, description="Placeholder values.")


class Filled(BaseModel):
    canned_id: str
    language: str
    text: str


def routes(router: FastAPI, kb: KbService, access: Access) -> None:
    staff, reports = Depends(access.staff), Depends(access.reports)

    @router.post(
        "/editor/articles",
        tags=["editors"],
        status_code=201,
        summary="Write a new article (a draft).",
        responses=CONFLICT,
    )
    async def create(article: Article, who: Person = staff) -> Article:
        return await kb.create(article, who.person_id)

    @router.get(
        "/editor/articles",
        tags=["editors"],
        summary="Articles in any status, newest change first.",
    )
    async def listing(
        who: Person = staff,
        status_: Annotated[Status | None, Query(alias="status")] = None,
        category: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[Article]:
        return await kb.listing(status_, category, limit)

    @router.get(
        "/editor/articles/{article_id}", tags=["editors"], summary="An article in any status."
    )
    async def one(article_id: str, who: Person = staff) -> Article:
        return await kb.article(article_id)

    @router.get(
        "/editor/articles/{article_id}/versions",
        tags=["editors"],
        summary="Every version, newest first.",
    )
    async def versions(article_id: str, who: Person = staff) -> list[Article]:
        return await kb.versions(article_id)

    @router.patch(
        "/editor/articles/{article_id}",
        tags=["editors"],
        summary="Edit: the fields given replace the article's (409 if `version` is stale).",
        description="Anyone with a token edits a draft; only a team's lead or manager, or an "
        "editor listed in `config/kb/kb.yaml`, edits a published or archived article (anyone "
        "else: 403).",
        responses=CONFLICT,
    )
    async def edit(article_id: str, change: ArticleChange, who: Person = staff) -> Article:
        return await kb.change(article_id, change, who.person_id)

    def status_change(target: Status) -> Callable[..., Awaitable[Article]]:
        async def change(article_id: str, who: Person = staff) -> Article:
            return await kb.move(article_id, target, who.person_id)

        return change

    moves: tuple[tuple[str, Status, str], ...] = (
        ("publish", "published", "Publish: searchable at once."),
        ("archive", "archived", "Archive: no longer searchable."),
        ("unpublish", "draft", "Back to draft: no longer searchable."),
    )
    for action, target, summary in moves:
        router.post(
            f"/editor/articles/{{article_id}}/{action}",
            tags=["editors"],
            summary=summary,
            description=PUBLISHERS,
            responses=CONFLICT,
        )(status_change(target))

    # -- canned responses ----------------------------------------------------------------------

    @router.get("/canned", tags=["canned"], summary="Canned responses, in a language if given.")
    async def canned(who: Person = staff, language: str | None = None) -> list[CannedResponse]:
        return await kb.canned(language)

    @router.put(
        "/canned/{canned_id}",
        tags=["canned"],
        summary="Write or replace one.",
        description=PUBLISHERS,
    )
    async def put_canned(
        canned_id: str, canned: CannedResponse, who: Person = staff
    ) -> CannedResponse:
        await kb.put_canned(canned_id, canned, who.person_id)
        return canned

    @router.delete(
        "/canned/{canned_id}",
        tags=["canned"],
        status_code=204,
        summary="Delete one.",
        description=PUBLISHERS,
    )
    async def delete_canned(canned_id: str, who: Person = staff) -> None:
        await kb.delete_canned(canned_id, who.person_id)

    @router.post(
        "/canned/{canned_id}/fill",
        tags=["canned"],
        summary="The answer in a language with its placeholders filled in.",
    )
    async def fill(canned_id: str, body: Fill, who: Person = staff) -> Filled:
        language, text = await kb.fill(canned_id, body.language, body.values)
        return Filled(canned_id=canned_id, language=language, text=text)

    # -- reports -------------------------------------------------------------------------------

    @router.get(
        "/reports/queries",
        tags=["reports"],
        summary="What people search for most.",
        description=SERVICE_WIDE,
    )
    async def top(who: Person = reports, days: Days = 30, limit: Limit = 20) -> list[QueryRow]:
        return await kb.top_queries(days, limit)

    @router.get(
        "/reports/no-results",
        tags=["reports"],
        summary="Searches that found nothing, most first.",
        description=SERVICE_WIDE,
    )
    async def empty(who: Person = reports, days: Days = 30, limit: Limit = 20) -> list[QueryRow]:
        return await kb.top_queries(days, limit, only_empty=True)

    @router.get(
        "/reports/articles",
        tags=["reports"],
        summary="Per article: views, helpful and not-helpful votes, suggestions, deflections.",
        description=SERVICE_WIDE,
    )
    async def articles(
        who: Person = reports, order: Counter = "views", limit: Limit = 50
    ) -> list[ArticleRow]:
        return await kb.article_rows(order, limit)
