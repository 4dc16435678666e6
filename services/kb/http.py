"""The knowledge base's public HTTP API: search, read, vote, and customers' self-help."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from services.kb import self_help_page
from services.kb.flows import Kb
from shared.agent_tokens import BadToken
from shared.events import KbFeedback


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


def routes(kb: Kb) -> APIRouter:
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
        article = await kb.store.article(article_id)
        if article is None or article.status != "published":
            raise HTTPException(404, f"no published article {article_id!r}")
        chosen = language if language in article.translations else next(iter(article.translations))
        text = article.translations[chosen]
        await kb.analytics.count(article_id, "views")
        if query_id:
            await kb.analytics.opened(query_id, article_id)
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
        article = await kb.store.article(article_id)
        if article is None or article.status != "published":
            raise HTTPException(404, f"no published article {article_id!r}")
        await kb.analytics.count(article_id, "helpful" if vote.helpful else "not_helpful")
        await kb.publish(
            KbFeedback(article_id=article_id, helpful=vote.helpful, comment=vote.comment)
        )
        return {"article_id": article_id, "recorded": "helpful" if vote.helpful else "not helpful"}

    def ticket_of(token: str) -> str:
        if kb.self_help_tokens is None:
            raise HTTPException(503, "self-help is not configured (no agent token secret)")
        try:
            return kb.self_help_tokens.verify(token)
        except BadToken as exc:
            raise HTTPException(404, f"this self-help link does not work: {exc}") from exc

    @router.get(
        "/self-help/{token}",
        summary="The articles offered to a customer for their request (HTML or JSON).",
        responses={404: {"description": "Link expired or forged."}},
    )
    async def offered(token: str, request: Request) -> Response:
        ticket_id = ticket_of(token)
        record = await kb.store.ticket(ticket_id) or {}
        answered = await kb.analytics.deflection(ticket_id)
        page = self_help_page.Offer(
            ticket_id=ticket_id,
            reference=str(record.get("reference") or ""),
            language=str(record.get("language") or "en"),
            articles=[],
            solved_by=answered["article_id"] if answered else None,
        )
        for suggestion in record.get("offered", []):
            article = await kb.store.article(suggestion["article_id"])
            if article and article.status == "published":
                page.articles.append(self_help_page.offered_article(article, page.language))
        if "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(self_help_page.render(page, token))
        return Response(page.model_dump_json(), media_type="application/json")

    async def answer(token: str, article_id: str) -> tuple[str, bool]:
        ticket_id = ticket_of(token)
        try:
            return ticket_id, await kb.solved(ticket_id, article_id)
        except KeyError as exc:
            raise HTTPException(404, str(exc.args[0])) from exc

    @router.post(
        "/self-help/{token}/solved",
        summary="'This solved it': resolves the request and counts a deflection.",
        responses={404: {"description": "Link expired or forged, or article not offered."}},
    )
    async def solved(token: str, body: Solved) -> SolvedAnswer:
        ticket_id, deflected = await answer(token, body.article_id)
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
        ticket_id, _ = await answer(token, article_id)
        return HTMLResponse(self_help_page.thanks(ticket_id))

    return router
