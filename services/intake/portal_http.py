"""The customer portal's routes: its page, signing in by a mailed one-time link, the session
cookie, and the JSON API the page calls (every state-changing call carries the session's
CSRF value in `X-CSRF-Token`)."""

from __future__ import annotations

import hmac
from html import escape
from typing import Any

from fastapi import (
    APIRouter,
    BackgroundTasks,
    Depends,
    File,
    Form,
    HTTPException,
    Request,
    UploadFile,
)
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.intake.portal import ASSETS, Portal, ReplyRefused, Session, Upload
from services.intake.portal_models import (
    Me,
    Replied,
    SignedOut,
    SignIn,
    SignInAccepted,
    SurveyAnswer,
    SurveyAnswered,
    TicketLine,
    TicketView,
)
from services.intake.portal_survey import SurveyClosed, SurveyUnavailable
from services.intake.settings import IntakeSettings
from shared import pages
from shared.access import Access, Problem, RateLimit, Rule
from shared.errors import unprocessable
from shared.logging import get_logger
from shared.pages import serve_page

log = get_logger(__name__)

COOKIE = "helpdesk_portal"
CSRF_HEADER = "X-CSRF-Token"
#: Only the page's own files may run or style it; customer text can never become markup.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_CSRF_REFUSED: dict[int | str, dict[str, Any]] = {
    403: {"description": "No or wrong `X-CSRF-Token`.", "model": Problem}
}
_ENTER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="static/portal.css"></head>
<body><main class="enter"><h1>{title}</h1>{content}</main></body></html>
"""
_ENTER_FORM = """<form method="post" action="enter"><input type="hidden" name="link" value="{link}">
<button id="enter" type="submit">Continue / ادامه / Продолжить / Συνέχεια</button></form>"""
_SPENT = """<p>This link has expired or was already used.</p>
<p><a href="../portal">Ask for a new one</a></p>"""


def public_base(request: Request, settings: IntakeSettings) -> str:
    """Where the browser reaches intake (see `shared.pages.public_base`)."""
    return pages.public_base(request, settings.public_url)


def _page(title: str, content: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        _ENTER_PAGE.format(title=title, content=content), status, headers=PAGE_HEADERS
    )


def portal_routes(portal: Portal, settings: IntakeSettings, access: Access) -> APIRouter:
    router = APIRouter()
    per_address = RateLimit(settings.portal_sign_in_limit)
    attachment_limit = int(portal.rules.mail.max_attachment_mb * 1024 * 1024)
    public = [Depends(access.public)]
    serve_page(router, "/portal", ASSETS, headers=PAGE_HEADERS, dependencies=public)

    async def signed_in(request: Request) -> Session:
        session_id = request.cookies.get(COOKIE)
        session = await portal.session(session_id) if session_id else None
        if session is None:
            raise HTTPException(401, "no portal session (or it expired): sign in again")
        return session

    customer = access.rule(Rule.LINK, signed_in)

    Signed = Depends(customer)

    async def with_csrf(request: Request, session: Session = Signed) -> Session:
        given = request.headers.get(CSRF_HEADER, "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, session.csrf.encode()):
            raise HTTPException(
                403, f"missing or wrong {CSRF_HEADER} header: send the csrf_token of /portal/api/me"
            )
        return session

    Customer, Changing = Depends(customer), Depends(with_csrf)
    Text, Attached = Form(max_length=100_000), File(default=None)

    @router.post(
        "/portal/sign-in",
        status_code=202,
        tags=["portal"],
        summary="Mail a one-time sign-in link to a customer's known address.",
        description="Answers the same whether or not the address is known.",
        dependencies=[Depends(access.public)],
    )
    async def sign_in(
        asked: SignIn, request: Request, background: BackgroundTasks
    ) -> SignInAccepted:
        email = asked.email.strip().lower()
        await per_address.check(f"portal-sign-in:{email}")
        if settings.public_url is None and settings.environment != "local":
            # A link built from the request's Host header could be made to point elsewhere.
            log.warning("portal.sign_in_off", reason="HELPDESK_PUBLIC_URL is not set")
            return SignInAccepted()
        # After the answer: a known address and an unknown one take the same time.
        background.add_task(portal.sign_in, email, public_base(request, settings))
        return SignInAccepted()

    @router.get("/portal/enter", include_in_schema=False, dependencies=[Depends(access.public)])
    async def enter_page(link: str = "") -> HTMLResponse:
        # A button, not a redirect: mail scanners that open links do not spend the token.
        if not link:
            return _page("Sign in", _SPENT, 400)
        return _page("Sign in", _ENTER_FORM.format(link=escape(link, quote=True)))

    @router.post("/portal/enter", include_in_schema=False, dependencies=[Depends(access.public)])
    async def enter(request: Request, link: str = Form(default="", max_length=200)) -> Response:
        if request.headers.get("Sec-Fetch-Site") == "cross-site":
            # Another site's form must not sign the browser in as somebody else.
            return _page("Sign in", _SPENT, 403)
        entered = await portal.enter(link) if link else None
        if entered is None:
            return _page("Sign in", _SPENT, 400)
        session_id, _ = entered
        base = public_base(request, settings)
        answer = RedirectResponse("../portal", status_code=303, headers=PAGE_HEADERS)
        answer.set_cookie(
            COOKIE,
            session_id,
            max_age=int(settings.portal_session_hours * 3600),
            **pages.cookie_scope(base, "/portal"),
            httponly=True,
            samesite="strict",
        )
        return answer

    @router.post(
        "/portal/sign-out", tags=["portal"], summary="End the session.", responses=_CSRF_REFUSED
    )
    async def sign_out(request: Request, response: Response, _: Session = Changing) -> SignedOut:
        await portal.sign_out(request.cookies.get(COOKIE, ""))
        base = public_base(request, settings)
        response.delete_cookie(
            COOKIE,
            **pages.cookie_scope(base, "/portal"),
            httponly=True,
            samesite="strict",
        )
        return SignedOut()

    @router.get("/portal/api/me", tags=["portal"], summary="The signed-in customer.")
    async def me(session: Session = Customer) -> Me:
        found = await portal.me(session)
        if found is None:
            raise HTTPException(401, "the customer of this session is gone: sign in again")
        return Me(**found)

    @router.get("/portal/api/tickets", tags=["portal"], summary="The customer's tickets.")
    async def tickets(session: Session = Customer) -> list[TicketLine]:
        found = await portal.tickets(session)
        if found is None:
            raise HTTPException(401, "the customer of this session is gone: sign in again")
        return [TicketLine(**t) for t in found]

    @router.get(
        "/portal/api/tickets/{ticket_id}",
        tags=["portal"],
        summary="One of the customer's tickets: what they wrote and the replies they got.",
    )
    async def ticket(ticket_id: str, session: Session = Customer) -> TicketView:
        found = await portal.ticket(session, ticket_id)
        if found is None:
            raise HTTPException(404, f"no ticket {ticket_id}")
        return TicketView(**found)

    @router.post(
        "/portal/api/tickets/{ticket_id}/reply",
        status_code=202,
        tags=["portal"],
        summary="Write on one of the customer's tickets, with a file if need be.",
        responses={
            **_CSRF_REFUSED,
            413: {"description": "The file is over the attachment limit.", "model": Problem},
        },
    )
    async def reply(
        ticket_id: str,
        body: str = Text,
        session: Session = Changing,
        file: UploadFile | None = Attached,
    ) -> Replied:
        upload = None
        if file is not None and file.filename:
            data = await file.read(attachment_limit + 1)
            if len(data) > attachment_limit:
                raise HTTPException(413, f"the file is over {attachment_limit} bytes")
            kind = file.content_type or "application/octet-stream"
            upload = Upload(file.filename, kind, data)
        try:
            contact_id = await portal.reply(session, ticket_id, body, upload)
        except ReplyRefused as exc:
            raise unprocessable(exc.rejected.detail, "body", kind=exc.rejected.kind) from exc
        if contact_id is None:
            raise HTTPException(404, f"no ticket {ticket_id}")
        return Replied(contact_id=contact_id)

    @router.post(
        "/portal/api/tickets/{ticket_id}/survey",
        tags=["portal"],
        summary="Answer the satisfaction survey of a resolved ticket.",
        description="Sent to the survey's own link, as the mailed survey's form sends it.",
        responses={
            **_CSRF_REFUSED,
            409: {"description": "No survey is open on this ticket.", "model": Problem},
            502: {"description": "The survey service did not take it.", "model": Problem},
        },
    )
    async def survey(
        ticket_id: str, answer: SurveyAnswer, session: Session = Changing
    ) -> SurveyAnswered:
        try:
            found = await portal.survey(session, ticket_id, answer.score, answer.comment)
        except SurveyClosed as exc:
            raise HTTPException(409, str(exc)) from exc
        except SurveyUnavailable as exc:
            raise HTTPException(502, str(exc)) from exc
        if found is None:
            raise HTTPException(404, f"no ticket {ticket_id}")
        return SurveyAnswered()

    return router
