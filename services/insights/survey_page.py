"""The customer's satisfaction survey behind a signed link: no login. Each score is a link, so
an answer takes one click from the mail; the same page takes a comment and lets the answer be
changed for the configured time. Rendered with Jinja2, every value escaped, in the customer's
language."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.insights.domain.surveys import Survey, SurveyClosed
from services.insights.service import InsightsService
from services.insights.service_surveys import BadLink, SurveyBusy
from services.insights.settings import InsightsSettings
from shared.access import Access, RateLimit, Rule
from shared.errors import Problem, unprocessable

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)
RTL = {"fa"}


@dataclass(frozen=True)
class Words:
    title: str
    question: str
    scale: tuple[str, str, str, str, str]
    comment: str
    send: str
    thanks: str
    your_answer: str
    changeable: str


WORDS: dict[str, Words] = {
    "en": Words(
        "How did we do?",
        "How satisfied are you with the help you received?",
        ("Very unhappy", "Unhappy", "Neither", "Happy", "Very happy"),
        "Anything you would like to tell us? (optional)",
        "Send",
        "Thank you for your answer.",
        "Your answer",
        "You can change your answer until",
    ),
    "fa": Words(
        "کار ما چطور بود؟",
        "از کمکی که دریافت کردید چقدر راضی هستید؟",
        ("بسیار ناراضی", "ناراضی", "نه راضی نه ناراضی", "راضی", "بسیار راضی"),
        "اگر نکته‌ای دارید برای ما بنویسید (اختیاری)",
        "ارسال",
        "از پاسخ شما سپاسگزاریم.",
        "پاسخ شما",
        "می‌توانید پاسخ خود را تا این زمان تغییر دهید:",
    ),
    "ru": Words(
        "Как мы справились?",
        "Насколько вы довольны полученной помощью?",
        ("Очень недоволен", "Недоволен", "Нейтрально", "Доволен", "Очень доволен"),
        "Хотите что-нибудь добавить? (необязательно)",
        "Отправить",
        "Спасибо за ваш ответ.",
        "Ваш ответ",
        "Ответ можно изменить до",
    ),
    "el": Words(
        "Πώς τα πήγαμε;",
        "Πόσο ικανοποιημένοι είστε από τη βοήθεια που λάβατε;",
        (
            "Πολύ δυσαρεστημένος",
            "Δυσαρεστημένος",
            "Ουδέτερος",
            "Ικανοποιημένος",
            "Πολύ ικανοποιημένος",
        ),
        "Θέλετε να μας πείτε κάτι; (προαιρετικό)",
        "Αποστολή",
        "Ευχαριστούμε για την απάντησή σας.",
        "Η απάντησή σας",
        "Μπορείτε να αλλάξετε την απάντησή σας έως",
    ),
}

Token = Annotated[str, PathParam(max_length=2000, description="The survey link's signed token.")]
Score = Annotated[int | None, Query(ge=1, le=5, description="Answer in one click: 1 to 5.")]


def render(insights: InsightsService, survey: Survey, token: str, notice: str | None) -> str:
    words = WORDS.get(survey.language, WORDS["en"])
    first = survey.first_answered_at
    changeable = insights.rules.surveys.changeable_for
    now = insights.clock.now()
    open_ = now <= survey.expires_at and (first is None or now <= first + changeable)
    return _ENV.get_template("survey.html").render(
        survey=survey,
        token=token,
        words=words,
        notice=notice,
        open=open_,
        until=f"{(first + changeable):%Y-%m-%d %H:%M} UTC" if first else "",
        language=survey.language,
        direction="rtl" if survey.language in RTL else "ltr",
    )


def survey_link(
    insights: InsightsService, access: Access, limit: RateLimit
) -> Callable[..., Awaitable[str]]:
    """The `link` rule of the survey routes: the ticket the signed token names (401 if forged
    or expired, 503 if surveys are not configured), counted against `limit` per client address
    first, so guessing tokens is slow."""
    within_limit = Depends(Access.limited(limit))

    async def linked_ticket(token: Token, _: None = within_limit) -> str:
        try:
            return insights.ticket_of(token)
        except BadLink as exc:
            code = 503 if insights.survey_keys is None else 401
            raise HTTPException(code, str(exc)) from exc

    return access.rule(Rule.LINK, linked_ticket)


ANSWERS: dict[int | str, dict[str, object]] = {
    404: {"description": "No survey was offered for this link.", "model": Problem},
    409: {"description": "The answer can no longer be changed.", "model": Problem},
    413: {"description": "The form is too long.", "model": Problem},
}


def routes(
    app: FastAPI, insights: InsightsService, access: Access, settings: InsightsSettings
) -> None:
    linked = Depends(survey_link(insights, access, RateLimit(settings.public_rate_limit)))

    async def answered(ticket_id: str, score: int, comment: str | None) -> Survey:
        try:
            return await insights.answer(ticket_id, score, comment)
        except SurveyClosed as exc:
            raise HTTPException(409, str(exc)) from exc
        except SurveyBusy as exc:
            raise HTTPException(409, str(exc)) from exc

    async def offered(ticket_id: str) -> Survey:
        try:
            return await insights.survey_of(ticket_id)
        except SurveyClosed as exc:
            raise HTTPException(404, str(exc)) from exc

    @app.get(
        "/survey/{token}",
        tags=["surveys"],
        summary="The customer's satisfaction survey; `?score=N` answers it in one click.",
        description="Behind the signed link sent to the customer (401 if forged or expired). "
        "Rate-limited per client address.",
        response_class=HTMLResponse,
        responses=ANSWERS,
    )
    async def survey(token: Token, score: Score = None, ticket_id: str = linked) -> HTMLResponse:
        current = await offered(ticket_id)
        if score is None:
            return HTMLResponse(render(insights, current, token, None))
        saved = await answered(ticket_id, score, None)
        words = WORDS.get(saved.language, WORDS["en"])
        return HTMLResponse(render(insights, saved, token, words.thanks))

    @app.post(
        "/survey/{token}",
        tags=["surveys"],
        summary="The survey's form: `score=1..5` and an optional `comment` (HTML answer).",
        description="Behind the signed link, as `GET /survey/{token}?score=N`, with a comment.",
        response_class=HTMLResponse,
        responses=ANSWERS,
    )
    async def survey_form(token: Token, request: Request, ticket_id: str = linked) -> HTMLResponse:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        raw = (form.get("score") or [""])[0]
        if raw not in {"1", "2", "3", "4", "5"}:
            raise unprocessable("give a score from 1 to 5", "body", "score", kind="score")
        comment = (form.get("comment") or [""])[0] or None
        await offered(ticket_id)
        saved = await answered(ticket_id, int(raw), comment)
        words = WORDS.get(saved.language, WORDS["en"])
        return HTMLResponse(render(insights, saved, token, words.thanks))
