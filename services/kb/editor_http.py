"""The knowledge base's API for people with agent tokens: write and publish articles, canned
responses, and the analytics reports."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from services.kb.analytics import ArticleRow, Counter, QueryRow
from services.kb.canned import CannedResponse, MissingValues
from services.kb.domain import Article, ArticleChange, NotAllowed, StaleVersion, Status
from services.kb.flows import Conflict, Kb
from shared.directory import Directory

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


def may_publish(directory: Directory, editors: list[str], person_id: str) -> bool:
    """Every team's lead and manager may publish, and the configured editors."""
    if person_id in editors:
        return True
    return any(
        person_id in (team.manager.person_id, team.lead.person_id if team.lead else None)
        for team in directory.teams
    )


def routes(kb: Kb, directory: Directory, person: Person) -> APIRouter:
    router = APIRouter(tags=["editors"])
    caller = Depends(person)

    async def existing(article_id: str) -> Article:
        article = await kb.store.article(article_id)
        if article is None:
            raise HTTPException(404, f"no article {article_id!r}")
        return article

    def publisher(person_id: str) -> None:
        if not may_publish(directory, kb.rules.editors, person_id):
            raise HTTPException(403, "only leads, managers and editors publish or archive")

    @router.post("/editor/articles", status_code=201, summary="Write a new article (a draft).")
    async def create(article: Article, who: str = caller) -> Article:
        try:
            return await kb.create(article, who)
        except Conflict as exc:
            raise HTTPException(409, str(exc)) from exc

    @router.get("/editor/articles", summary="Articles in any status, newest change first.")
    async def listing(
        who: str = caller,
        status_: Annotated[Status | None, Query(alias="status")] = None,
        category: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[Article]:
        return await kb.store.articles(status=status_, category=category, limit=limit)

    @router.get("/editor/articles/{article_id}", summary="An article in any status.")
    async def one(article_id: str, who: str = caller) -> Article:
        return await existing(article_id)

    @router.get("/editor/articles/{article_id}/versions", summary="Every version, newest first.")
    async def versions(article_id: str, who: str = caller) -> list[Article]:
        await existing(article_id)
        return await kb.store.versions(article_id)

    @router.patch(
        "/editor/articles/{article_id}",
        summary="Edit: the fields given replace the article's (409 if `version` is stale).",
    )
    async def edit(article_id: str, change: ArticleChange, who: str = caller) -> Article:
        article = await existing(article_id)
        if article.status != "draft":
            publisher(who)
        try:
            return await kb.change(article, change, who)
        except (StaleVersion, Conflict) as exc:
            raise HTTPException(409, str(exc)) from exc
        except NotAllowed as exc:
            raise HTTPException(422, str(exc)) from exc

    def status_change(target: Status) -> Callable[[str, str], Awaitable[Article]]:
        async def change(article_id: str, who: str = caller) -> Article:
            publisher(who)
            try:
                return await kb.move(await existing(article_id), target, who)
            except Conflict as exc:
                raise HTTPException(409, str(exc)) from exc
            except NotAllowed as exc:
                raise HTTPException(409, str(exc)) from exc

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
        return await kb.store.canned(language)

    @router.put("/canned/{canned_id}", tags=["canned"], summary="Write or replace one.")
    async def put_canned(
        canned_id: str, canned: CannedResponse, who: str = caller
    ) -> CannedResponse:
        publisher(who)
        if canned.canned_id != canned_id:
            raise HTTPException(422, "canned_id in the path and the body differ")
        await kb.store.put_canned(canned)
        return canned

    @router.delete("/canned/{canned_id}", tags=["canned"], status_code=204)
    async def delete_canned(canned_id: str, who: str = caller) -> None:
        publisher(who)
        if not await kb.store.delete_canned(canned_id):
            raise HTTPException(404, f"no canned response {canned_id!r}")

    @router.post(
        "/canned/{canned_id}/fill",
        tags=["canned"],
        summary="The answer in a language with its placeholders filled in.",
    )
    async def fill(canned_id: str, body: Fill, who: str = caller) -> Filled:
        canned = await kb.store.canned_response(canned_id)
        if canned is None:
            raise HTTPException(404, f"no canned response {canned_id!r}")
        language = body.language if body.language in canned.texts else "en"
        try:
            text = canned.render(language, body.values)
        except MissingValues as exc:
            raise HTTPException(422, str(exc)) from exc
        except KeyError as exc:
            raise HTTPException(404, str(exc.args[0])) from exc
        return Filled(canned_id=canned_id, language=language, text=text)

    # -- reports -------------------------------------------------------------------------------

    @router.get("/reports/queries", tags=["reports"], summary="What people search for most.")
    async def top(who: str = caller, days: Days = 30, limit: Limit = 20) -> list[QueryRow]:
        return await kb.analytics.top_queries(kb.clock.now() - timedelta(days=days), limit=limit)

    @router.get(
        "/reports/no-results", tags=["reports"], summary="Searches that found nothing, most first."
    )
    async def empty(who: str = caller, days: Days = 30, limit: Limit = 20) -> list[QueryRow]:
        start = kb.clock.now() - timedelta(days=days)
        return await kb.analytics.top_queries(start, limit=limit, only_empty=True)

    @router.get(
        "/reports/articles",
        tags=["reports"],
        summary="Per article: views, helpful and not-helpful votes, suggestions, deflections.",
    )
    async def articles(
        who: str = caller, order: Counter = "views", limit: Limit = 50
    ) -> list[ArticleRow]:
        return await kb.analytics.articles(limit=limit, order=order)

    return router
