"""The notifier's HTTP API: the console's board, the workspace's tickets (`http_workspace`),
live push (WebSocket and Server-Sent Events), acknowledging escalations, chat-tool webhooks,
and the delivery log. Every route states its
access rule (shared/access.py); what the board shows is scoped per viewer besides."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import (
    Cookie,
    Depends,
    FastAPI,
    HTTPException,
    Query,
    Request,
    Response,
    WebSocket,
    WebSocketDisconnect,
    status,
)
from fastapi.responses import JSONResponse
from pydantic import AnyHttpUrl, BaseModel, Field, SecretStr
from sse_starlette import EventSourceResponse

from services.notifier.domain.chat import WebhookTarget
from services.notifier.domain.deliveries import Job
from services.notifier.domain.errors import (
    Conflict,
    Forbidden,
    NotFound,
    NotifierError,
    Unacceptable,
)
from services.notifier.domain.notices import TicketNoticeKind
from services.notifier.http_workspace import workspace_routes
from services.notifier.push import PushHub, Stream
from services.notifier.service import NotifierService
from shared.access import Access, Person, Rule
from shared.agent_tokens import unauthorized
from shared.errors import Problem, refusal
from shared.logging import get_logger
from shared.pages import cookie_scope, public_base

log = get_logger(__name__)

#: Close codes: 4000-4999 are the application's; 4401 reads as HTTP 401.
CLOSE_UNAUTHORISED = 4401
CLOSE_UNAVAILABLE = 1013

#: The answer to each refusal of the service.
ANSWERS: dict[type[NotifierError], int] = {
    NotFound: status.HTTP_404_NOT_FOUND,
    Forbidden: status.HTTP_403_FORBIDDEN,
    Conflict: status.HTTP_409_CONFLICT,
    Unacceptable: status.HTTP_422_UNPROCESSABLE_CONTENT,
}


@dataclass
class Api:
    access: Access
    hub: PushHub
    service: NotifierService
    #: Where browsers reach the notifier (its `public_url` setting), for the live cookie's path.
    public_url: str | None = None


#: The cookie that carries a browser's token to the live stream, so that it sits in no URL.
LIVE_COOKIE = "helpdesk_live"


class WebhookIn(BaseModel):
    name: str = Field(pattern=r"^[a-z0-9_-]{1,64}$", description="Unique name of the endpoint.")
    url: AnyHttpUrl = Field(
        description="Where to POST (a Slack-compatible incoming webhook). Its host must "
        "resolve to a public address, or one `webhooks.allow_networks` allows."
    )
    teams: list[str] = Field(min_length=1, description="Teams whose notices it receives.")
    kinds: list[TicketNoticeKind] = Field(
        default_factory=list, description="Empty: every kind of ticket notice."
    )
    secret: str | None = Field(
        default=None, min_length=16, description="HMAC key; generated and returned if absent."
    )


class WebhookOut(BaseModel):
    name: str
    host: str = Field(description="The endpoint's host; the URL itself is a secret of Slack's.")
    teams: list[str]
    kinds: list[str]
    active: bool
    secret: str | None = Field(default=None, description="Only in the answer that created it.")


def _out(target: WebhookTarget, *, secret: str | None = None) -> WebhookOut:
    return WebhookOut(
        name=target.name,
        host=target.url.host or "",
        teams=target.teams,
        kinds=list(target.kinds),
        active=target.active,
        secret=secret,
    )


@dataclass(frozen=True)
class Admission:
    """Who a live connection's `token` names, or why it is refused: a WebSocket is refused
    after it is accepted, so that the console reads the close code and reason."""

    person: Person | None = None
    refusal: HTTPException | None = None

    def required(self) -> Person:
        if self.person is None:
            raise self.refusal or HTTPException(status.HTTP_401_UNAUTHORIZED, "no token")
        return self.person


def _admission(access: Access) -> Callable[..., Awaitable[Admission]]:
    """The `staff` rule for the live routes. Browsers cannot set headers on EventSource or
    WebSocket: the workspace hands its token over once (`POST /live-session`) and the stream
    reads it from a cookie; other clients may give it in the query."""

    async def admit(
        token: Annotated[str | None, Query(description="The person's token.")] = None,
        cookie: Annotated[
            str | None,
            Cookie(alias=LIVE_COOKIE, description="The token `POST /live-session` set."),
        ] = None,
    ) -> Admission:
        token = token or cookie
        if not token and access.keys is not None:
            return Admission(refusal=unauthorized("missing `token` parameter", bearer=False))
        try:
            return Admission(person=access.person(token or ""))
        except HTTPException as exc:
            return Admission(refusal=exc)

    ruled: Callable[..., Awaitable[Admission]] = access.rule(Rule.STAFF, admit)
    return ruled


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "model": Problem}


def _is_ping(text: str) -> bool:
    if text.strip().lower() == "ping":
        return True
    try:
        message = json.loads(text)
    except ValueError:
        return False
    return isinstance(message, dict) and message.get("type") == "ping"


def routes(router: FastAPI, api: Api) -> None:
    """The routes, on the app itself: `seal` checks the app's own routes (an included router
    is one opaque entry there in this FastAPI)."""
    access, service = api.access, api.service
    staff, heads = Depends(access.staff), Depends(access.heads)
    operator, live = Depends(access.operator), Depends(_admission(access))
    public = Depends(access.public)

    @router.get("/me", tags=["console"], summary="Who the token names: role, teams and language.")
    async def me(person: Person = staff) -> dict[str, Any]:
        return service.me(person.person_id)

    @router.get("/board", tags=["console"], summary="The caller's tickets and escalations.")
    async def board(person: Person = staff) -> dict[str, Any]:
        return await service.board(service.viewer(person.person_id))

    workspace_routes(router, access, service)

    @router.post(
        "/live-session",
        status_code=status.HTTP_204_NO_CONTENT,
        tags=["console"],
        summary="Let this browser's live stream in: the bearer token in an HttpOnly cookie.",
        description="The cookie (SameSite=Strict) is sent only to `/events`; the token is "
        "checked again on every connection, so it lasts no longer than the token.",
    )
    async def live_session(request: Request, response: Response, _: Person = staff) -> None:
        token = request.headers["authorization"].partition(" ")[2].strip()
        base = public_base(request, api.public_url)
        response.set_cookie(
            LIVE_COOKIE, token, httponly=True, samesite="strict", **cookie_scope(base, "/events")
        )

    @router.delete(
        "/live-session",
        status_code=status.HTTP_204_NO_CONTENT,
        tags=["console"],
        summary="Forget this browser's live-stream cookie (signing out).",
        dependencies=[public],
    )
    async def end_live_session(request: Request, response: Response) -> None:
        base = public_base(request, api.public_url)
        response.delete_cookie(
            LIVE_COOKIE, httponly=True, samesite="strict", **cookie_scope(base, "/events")
        )

    @router.get(
        "/events",
        tags=["console"],
        summary="Server-Sent Events: `ticket`, `escalation` and `notice` as they happen.",
    )
    async def events(admission: Admission = live) -> EventSourceResponse:
        viewer = service.viewer(admission.required().person_id)
        stream = Stream()
        api.hub.add(viewer.person_id, stream)

        async def messages() -> AsyncIterator[dict[str, str]]:
            try:
                yield {"event": "hello", "data": json.dumps(viewer.as_json())}
                while True:
                    envelope = json.loads(await stream.queue.get())
                    data = json.dumps(envelope["data"], ensure_ascii=False)
                    yield {"event": envelope["type"], "data": data}
            finally:
                api.hub.remove(viewer.person_id, stream)

        return EventSourceResponse(messages(), ping=15)

    @router.websocket("/ws")
    async def live_push(websocket: WebSocket, admission: Admission = live) -> None:
        """Live updates for one person, as JSON `{"type", "data"}`; `token` is theirs."""
        # Accept first: a close before the handshake reaches the browser as a bare HTTP 403,
        # without the code and reason the console needs to tell "log in again" from an outage.
        await websocket.accept()
        if admission.person is None:
            refusal = admission.refusal
            unavailable = refusal is not None and refusal.status_code == 503
            reason = str(refusal.detail) if refusal is not None else "no token"
            log.info("push.refused", reason=reason)
            code = CLOSE_UNAVAILABLE if unavailable else CLOSE_UNAUTHORISED
            await websocket.close(code=code, reason=reason[:120])
            return
        viewer = service.viewer(admission.person.person_id)
        api.hub.add(viewer.person_id, websocket)
        try:
            while True:
                if _is_ping(await websocket.receive_text()):
                    await websocket.send_text(json.dumps({"type": "pong"}))
        except WebSocketDisconnect:
            pass
        finally:
            api.hub.remove(viewer.person_id, websocket)

    @router.post(
        "/escalations/{escalation_id}/acknowledge",
        tags=["escalations"],
        summary="Acknowledge an escalation: its ladder stops; idempotent.",
        description="By somebody it was told to, or a lead or manager of its team.",
        responses={
            403: _problem("Of your team, but you were not told of it and do not head the team."),
            404: _problem("Unknown, or another team's."),
        },
    )
    async def acknowledge(escalation_id: str, person: Person = staff) -> dict[str, Any]:
        return await service.acknowledge(escalation_id, service.viewer(person.person_id))

    @router.get(
        "/deliveries",
        tags=["deliveries"],
        summary="The delivery log, newest first (service-wide: an operator's).",
    )
    async def deliveries(
        ticket_id: str | None = Query(default=None, description="Only this ticket's."),
        limit: int = Query(default=100, ge=1, le=1000),
        person: Person = operator,
    ) -> list[Job]:
        return await service.deliveries(ticket_id=ticket_id, limit=limit)

    @router.post(
        "/webhooks",
        tags=["webhooks"],
        status_code=201,
        summary="Add or replace a webhook of the caller's teams.",
        responses={
            403: _problem("A team named is not one you lead or manage."),
            409: _problem("The name is taken by another team's webhook."),
            422: _problem(
                "The body is invalid, or the URL's host is (or resolves only to) an address "
                "that is not allowed: private, loopback, link-local, cloud metadata."
            ),
        },
    )
    async def put_webhook(body: WebhookIn, person: Person = heads) -> WebhookOut:
        secret = body.secret or secrets.token_urlsafe(32)
        target = WebhookTarget(
            name=body.name,
            url=body.url,
            secret=SecretStr(secret),
            teams=body.teams,
            kinds=body.kinds,
        )
        await service.put_webhook(service.viewer(person.person_id), target)
        return _out(target, secret=None if body.secret else secret)

    @router.get("/webhooks", tags=["webhooks"], summary="Webhooks of the caller's teams.")
    async def list_webhooks(person: Person = heads) -> list[WebhookOut]:
        return [_out(t) for t in await service.webhooks_of(service.viewer(person.person_id))]

    @router.delete(
        "/webhooks/{name}",
        tags=["webhooks"],
        status_code=204,
        summary="Remove a webhook of the caller's teams.",
        responses={
            403: _problem("It serves a team you do not lead or manage too."),
            404: _problem("Unknown, or none of your teams'."),
        },
    )
    async def delete_webhook(name: str, person: Person = heads) -> None:
        await service.delete_webhook(service.viewer(person.person_id), name)


def mount(app: FastAPI, api: Api) -> None:
    """The routes on the app, with the service's refusals answered per `ANSWERS`."""
    routes(app, api)

    async def refused(request: Request, exc: Exception) -> JSONResponse:
        code = next(c for kind, c in ANSWERS.items() if isinstance(exc, kind))
        # Only a webhook's body is ever refused as unacceptable.
        return refusal(code, exc, "body")

    for kind in ANSWERS:
        app.add_exception_handler(kind, refused)
