"""The notifier's HTTP API: the console's board, live push (WebSocket and Server-Sent Events),
acknowledging escalations, chat-tool webhooks, and the delivery log."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    HTTPException,
    Query,
    Request,
    WebSocket,
    WebSocketDisconnect,
    status,
)
from fastapi.responses import JSONResponse
from pydantic import AnyHttpUrl, BaseModel, Field, SecretStr
from sse_starlette import EventSourceResponse

from services.notifier.domain.chat import WebhookTarget
from services.notifier.domain.deliveries import Job
from services.notifier.domain.errors import Forbidden, NotFound, NotifierError
from services.notifier.domain.notices import NoticeKind
from services.notifier.domain.views import Viewer
from services.notifier.push import PushHub, Stream
from services.notifier.service import NotifierService
from shared.agent_tokens import AgentTokens, BadToken, agent_dependency, unauthorized
from shared.clock import Clock
from shared.logging import get_logger

log = get_logger(__name__)

#: Close codes: 4000-4999 are the application's; 4401 reads as HTTP 401.
CLOSE_UNAUTHORISED = 4401
CLOSE_UNAVAILABLE = 1013

#: The answer to each refusal of the service.
ANSWERS: dict[type[NotifierError], int] = {
    NotFound: status.HTTP_404_NOT_FOUND,
    Forbidden: status.HTTP_403_FORBIDDEN,
}


@dataclass
class Api:
    tokens: AgentTokens | None
    clock: Clock
    hub: PushHub
    service: NotifierService


class WebhookIn(BaseModel):
    name: str = Field(pattern=r"^[a-z0-9_-]{1,64}$", description="Unique name of the endpoint.")
    url: AnyHttpUrl = Field(description="Where to POST (a Slack-compatible incoming webhook).")
    teams: list[str] = Field(min_length=1, description="Teams whose notices it receives.")
    kinds: list[NoticeKind] = Field(default_factory=list, description="Empty: every kind.")
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


def _caller(api: Api) -> Callable[..., Awaitable[Viewer]]:
    """A dependency giving the calling person (agent, lead or manager) from their token."""
    person = agent_dependency(api.tokens, api.clock) if api.tokens else None

    async def unavailable() -> str:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "agent tokens not configured")

    identified = Depends(person or unavailable)

    async def caller(person_id: str = identified) -> Viewer:
        return api.service.viewer(person_id)

    return caller


def _token_viewer(api: Api, token: str | None) -> Viewer:
    if api.tokens is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "agent tokens not configured")
    try:
        person_id = api.tokens.verify(token or "", api.clock.now())
    except BadToken as exc:
        raise unauthorized(f"token refused: {exc}", bearer=False) from exc
    try:
        return api.service.viewer(person_id)
    except Forbidden as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc


def _is_ping(text: str) -> bool:
    if text.strip().lower() == "ping":
        return True
    try:
        message = json.loads(text)
    except ValueError:
        return False
    return isinstance(message, dict) and message.get("type") == "ping"


def routes(api: Api) -> APIRouter:
    router = APIRouter()
    signed_in = Depends(_caller(api))

    @router.get("/me", tags=["console"], summary="Who the token names: role and teams.")
    async def me(viewer: Viewer = signed_in) -> dict[str, Any]:
        return viewer.as_json()

    @router.get("/board", tags=["console"], summary="The caller's tickets and escalations.")
    async def board(viewer: Viewer = signed_in) -> dict[str, Any]:
        return await api.service.board(viewer)

    @router.get(
        "/events",
        tags=["console"],
        summary="Server-Sent Events: `ticket`, `escalation` and `notice` as they happen.",
    )
    async def events(
        token: str | None = Query(default=None, description="The person's token."),
    ) -> EventSourceResponse:
        viewer = _token_viewer(api, token)
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
    async def live_push(websocket: WebSocket, token: str | None = None) -> None:
        """Live updates for one person, as JSON `{"type", "data"}`; `token` is theirs."""
        # Accept first: a close before the handshake reaches the browser as a bare HTTP 403,
        # without the code and reason the console needs to tell "log in again" from an outage.
        await websocket.accept()
        try:
            viewer = _token_viewer(api, token)
        except HTTPException as exc:
            code = CLOSE_UNAVAILABLE if exc.status_code == 503 else CLOSE_UNAUTHORISED
            log.info("push.refused", reason=exc.detail)
            await websocket.close(code=code, reason=str(exc.detail)[:120])
            return
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
        responses={403: {"description": "Never told of it"}, 404: {"description": "Unknown"}},
    )
    async def acknowledge(escalation_id: str, viewer: Viewer = signed_in) -> dict[str, Any]:
        return await api.service.acknowledge(escalation_id, viewer)

    @router.get("/deliveries", tags=["deliveries"], summary="The delivery log, newest first.")
    async def deliveries(
        ticket_id: str | None = Query(default=None, description="Only this ticket's."),
        limit: int = Query(default=100, ge=1, le=1000),
    ) -> list[Job]:
        return await api.service.deliveries(ticket_id=ticket_id, limit=limit)

    @router.post("/webhooks", tags=["webhooks"], status_code=201, summary="Add or replace.")
    async def put_webhook(body: WebhookIn, viewer: Viewer = signed_in) -> WebhookOut:
        secret = body.secret or secrets.token_urlsafe(32)
        target = WebhookTarget(
            name=body.name,
            url=body.url,
            secret=SecretStr(secret),
            teams=body.teams,
            kinds=body.kinds,
        )
        await api.service.put_webhook(viewer, target)
        return _out(target, secret=None if body.secret else secret)

    @router.get("/webhooks", tags=["webhooks"], summary="Endpoints of the caller's teams.")
    async def list_webhooks(viewer: Viewer = signed_in) -> list[WebhookOut]:
        return [_out(t) for t in await api.service.webhooks_of(viewer)]

    @router.delete("/webhooks/{name}", tags=["webhooks"], status_code=204, summary="Remove.")
    async def delete_webhook(name: str, viewer: Viewer = signed_in) -> None:
        await api.service.delete_webhook(viewer, name)

    return router


def mount(app: FastAPI, api: Api) -> None:
    """The routes on the app, with the service's refusals answered per `ANSWERS`."""
    app.include_router(routes(api))

    async def refused(request: Request, exc: Exception) -> JSONResponse:
        code = next(c for kind, c in ANSWERS.items() if isinstance(exc, kind))
        return JSONResponse({"detail": str(exc)}, status_code=code)

    for kind in ANSWERS:
        app.add_exception_handler(kind, refused)
