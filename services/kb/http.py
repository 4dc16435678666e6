"""The knowledge base's public HTTP API (search, read, vote) and customers' self-help pages
behind signed links, and the one table that turns every refusal of a use case into its HTTP
answer. Each route states its access rule (`shared.access`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from services.kb import http_editor, self_help_page
from services.kb.domain.canned import MissingValues
from services.kb.domain.errors import (
    BadLink,
    Conflict,
    Forbidden,
    InvalidChange,
    NotAllowed,
    NotFound,
    Unavailable,
)
from services.kb.service import KbService
from services.kb.settings import KbSettings
from shared.access import Access, RateLimit, Rule
from shared.errors import Problem, refusal, unprocessable

#: Every refusal a use case may raise, and its HTTP status; the answer's detail is its message.
ERRORS: dict[type[Exception], int] = {
    NotFound: 404,
    BadLink: 401,
    Forbidden: 403,
    Conflict: 409,
    NotAllowed: 409,
    InvalidChange: 422,
    MissingValues: 422,
    Unavailable: 503,
}
Answers = dict[int | str, dict[str, Any]]
Token = Annotated[str, Path(description="The signed token of the customer's self-help link.")]


def serve(app: FastAPI, kb: KbService, access: Access, settings: KbSettings) -> None:
    """Mount the public, the self-help and the editors' routes, and answer refusals by
    `ERRORS`."""
    # On the app itself, not through `include_router`: `seal` checks the app's own routes.
    routes(app, kb, access, settings)
    http_editor.routes(app, kb, access)
    for error, code in ERRORS.items():

        async def refused(request: Request, exc: Exception, code: int = code) -> Response:
            # A refused body's values (a change, a fill's placeholders) are 422's one shape.
            return refusal(code, exc, "body")

        app.add_exception_handler(error, refused)


def self_help_link(
    kb: KbService, access: Access, limit: RateLimit
) -> Callable[..., Awaitable[str]]:
    """The `link` rule of the self-help routes: the ticket the signed token in the path names
    (401 if forged, expired or no self-help link; 503 if links are not configured), counted
    against `limit` per client address first, so guessing tokens is slow."""

    within_limit = Depends(Access.limited(limit))

    async def linked_ticket(token: Token, _: None = within_limit) -> str:
        return kb.ticket_of(token)

    return access.rule(Rule.LINK, linked_ticket)


async def bounded_body(request: Request, limit: int) -> bytes:
    """The request's body, refused with 413 as soon as it is longer than `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the body is {declared} bytes; the limit is {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"the body is over the limit of {limit} bytes")
    return bytes(body)


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


def routes(router: FastAPI, kb: KbService, access: Access, settings: KbSettings) -> None:
    public = [Depends(access.public)]
    linked = Depends(self_help_link(kb, access, RateLimit(settings.public_rate_limit)))
    not_published: Answers = {404: {"description": "No such published article.", "model": Problem}}
    not_offered: Answers = {
        404: {"description": "The article was not offered for this request.", "model": Problem}
    }

    @router.get(
        "/articles/search",
        tags=["articles"],
        dependencies=public,
        summary="Search published articles in any language (public, rate-limited).",
    )
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
        tags=["articles"],
        dependencies=public,
        summary="Read a published article; counts a view (and the search it came from).",
        description="Public. A draft or archived article answers 404, as one that does not "
        "exist: editors read those at `/editor/articles/{article_id}`.",
        responses=not_published,
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
        tags=["articles"],
        dependencies=public,
        status_code=status.HTTP_202_ACCEPTED,
        summary="Say whether a published article helped (public, rate-limited).",
        responses=not_published,
    )
    async def feedback(article_id: str, vote: Vote) -> dict[str, str]:
        await kb.feedback(article_id, vote.helpful, vote.comment)
        return {"article_id": article_id, "recorded": "helpful" if vote.helpful else "not helpful"}

    @router.get(
        "/self-help/{token}",
        tags=["self-help"],
        summary="The articles offered to a customer for their request (HTML or JSON).",
        description="Behind the signed link mailed to the customer: the token names the ticket "
        "(401 if forged or expired). Rate-limited per client address.",
    )
    async def offered(token: Token, request: Request, ticket_id: str = linked) -> Response:
        offer = await kb.self_help(ticket_id)
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
        tags=["self-help"],
        summary="'This solved it': resolves the request and counts a deflection.",
        description="Behind the signed link (401 if forged or expired); 404 if the article was "
        "not offered for this request. Rate-limited per client address.",
        responses=not_offered,
    )
    async def solved(body: Solved, ticket_id: str = linked) -> SolvedAnswer:
        ticket_id, deflected = await kb.solved(ticket_id, body.article_id)
        return SolvedAnswer(ticket_id=ticket_id, deflected=deflected)

    @router.post(
        "/self-help/{token}",
        tags=["self-help"],
        summary="The self-help page's form: `article_id=...` solved it (HTML answer).",
        description="Behind the signed link, as `POST /self-help/{token}/solved`.",
        response_class=HTMLResponse,
        responses={
            **not_offered,
            413: {"description": "The form is too long.", "model": Problem},
        },
    )
    async def solved_by_form(request: Request, ticket_id: str = linked) -> HTMLResponse:
        raw = await bounded_body(request, settings.max_request_bytes)
        form = parse_qs(raw.decode("utf-8", "replace"))
        article_id = (form.get("article_id") or [""])[0]
        if not article_id:
            raise unprocessable("say which article solved it", "body", "article_id", kind="missing")
        ticket_id, _ = await kb.solved(ticket_id, article_id)
        return HTMLResponse(self_help_page.thanks(ticket_id))
