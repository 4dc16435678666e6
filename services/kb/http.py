"""The knowledge base's public HTTP API (search, read, vote, customers' self-help), and the one
table that turns every refusal of a use case into its HTTP answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from services.kb import http_editor, self_help_page
from services.kb.domain.canned import MissingValues
from services.kb.domain.errors import (
    Conflict,
    Forbidden,
    InvalidChange,
    NotAllowed,
    NotFound,
    Unavailable,
)
from services.kb.service import KbService

#: Every refusal a use case may raise, and its HTTP status; the answer's detail is its message.
ERRORS: dict[type[Exception], int] = {
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    NotAllowed: 409,
    InvalidChange: 422,
    MissingValues: 422,
    Unavailable: 503,
}


def serve(app: FastAPI, kb: KbService, person: Callable[..., Awaitable[str]]) -> None:
    """Mount the public and the editors' routes, and answer refusals by `ERRORS`."""
    app.include_router(routes(kb))
    app.include_router(http_editor.routes(kb, person))
    for error, code in ERRORS.items():

        async def refused(request: Request, exc: Exception, code: int = code) -> Response:
            return JSONResponse({"detail": str(exc)}, status_code=code)

        app.add_exception_handler(error, refused)


class Result(BaseModel):
    article_id: str
    title: str
    language: str
    category: str | None
    score: float
    snippet: str = Field(description="HTML: the article's text escaped, matches in <mark>.")


class SearchAnswer(BaseModel):
    query_id: str = Field(description="Pass it when opening a result, for the analytics.")
    language: str | None = Field(description="Language searched in; none: every language.")
    results: list[Result]


class PublicArticle(BaseModel):
    article_id: str
    language: str
    title: str
    body: str
    category: str | None
    tags: list[str]
    languages: list[str] = Field(description="Every language it is written in.")
    updated_at: datetime | None


class Vote(BaseModel):
    helpful: bool = Field(description="Did the article solve the problem?")
    comment: str | None = Field(default=None, max_length=2_000)


class Solved(BaseModel):
    article_id: str = Field(min_length=1, description="The offered article that solved it.")


class SolvedAnswer(BaseModel):
    ticket_id: str
    deflected: bool = Field(description="False if it was already answered before.")


def routes(kb: KbService) -> APIRouter:
    router = APIRouter(tags=["articles"])

    @router.get("/articles/search", summary="Search published articles in any language.")
    async def search(
        q: str = Query(min_length=1, max_length=500, description="What to look for."),
        language: str | None = Query(
            default=None, description="Language of the query (en, fa, ru, el); none: detected."
        ),
        category: str | None = Query(default=None, description="Only this category."),
        limit: int = Query(default=10, ge=1, le=50),
    ) -> SearchAnswer:
        searched = await kb.search(q, language, limit=limit, category=category)
        return SearchAnswer(
            query_id=searched.query_id,
            language=searched.language,
            results=[Result(**vars(h)) for h in searched.found.hits],
        )

    @router.get(
        "/articles/{article_id}",
        summary="Read a published article; counts a view (and the search it came from).",
        responses={404: {"description": "No such published article."}},
    )
    async def read(
        article_id: str,
        language: str | None = Query(default=None, description="Wanted language."),
        query_id: str | None = Query(default=None, description="The search it was found by."),
    ) -> PublicArticle:
        article, chosen = await kb.read(article_id, language, query_id)
        text = article.translations[chosen]
        return PublicArticle(
            article_id=article_id,
            language=chosen,
            title=text.title,
            body=text.body,
            category=article.category,
            tags=article.tags,
            languages=sorted(article.translations),
            updated_at=article.updated_at,
        )

    @router.post(
        "/articles/{article_id}/feedback",
        status_code=status.HTTP_202_ACCEPTED,
        summary="Say whether an article helped.",
    )
    async def feedback(article_id: str, vote: Vote) -> dict[str, str]:
        await kb.feedback(article_id, vote.helpful, vote.comment)
        return {"article_id": article_id, "recorded": "helpful" if vote.helpful else "not helpful"}

    @router.get(
        "/self-help/{token}",
        summary="The articles offered to a customer for their request (HTML or JSON).",
        responses={404: {"description": "Link expired or forged."}},
    )
    async def offered(token: str, request: Request) -> Response:
        offer = await kb.self_help(token)
        page = self_help_page.Offer(
            ticket_id=offer.ticket_id,
            reference=offer.reference,
            language=offer.language,
            articles=[self_help_page.offered_article(a, offer.language) for a in offer.articles],
            solved_by=offer.solved_by,
        )
        if "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(self_help_page.render(page, token))
        return Response(page.model_dump_json(), media_type="application/json")

    @router.post(
        "/self-help/{token}/solved",
        summary="'This solved it': resolves the request and counts a deflection.",
        responses={404: {"description": "Link expired or forged, or article not offered."}},
    )
    async def solved(token: str, body: Solved) -> SolvedAnswer:
        ticket_id, deflected = await kb.solved(token, body.article_id)
        return SolvedAnswer(ticket_id=ticket_id, deflected=deflected)

    @router.post(
        "/self-help/{token}",
        summary="The self-help page's form: `article_id=...` solved it (HTML answer).",
        response_class=HTMLResponse,
    )
    async def solved_by_form(token: str, request: Request) -> HTMLResponse:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        article_id = (form.get("article_id") or [""])[0]
        if not article_id:
            raise HTTPException(422, "say which article solved it (article_id)")
        ticket_id, _ = await kb.solved(token, article_id)
        return HTMLResponse(self_help_page.thanks(ticket_id))

    return router
