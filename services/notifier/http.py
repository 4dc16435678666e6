"""The notifier's HTTP API: the live-push WebSocket and the delivery log."""

from __future__ import annotations

import json

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from pydantic import SecretStr

from services.notifier.auth import verify_token
from services.notifier.push import PushHub
from services.notifier.store import Delivery, DeliveryStore
from shared.logging import get_logger

log = get_logger(__name__)

#: Close code for a refused token: 4000-4999 are the application's; 4401 reads as HTTP 401.
CLOSE_UNAUTHORISED = 4401


def _is_ping(text: str) -> bool:
    if text.strip().lower() == "ping":
        return True
    try:
        message = json.loads(text)
    except ValueError:
        return False
    return isinstance(message, dict) and message.get("type") == "ping"


def routes(hub: PushHub, deliveries: DeliveryStore, secret: SecretStr) -> APIRouter:
    router = APIRouter()

    @router.websocket("/ws/{person_id}")
    async def live_push(websocket: WebSocket, person_id: str, token: str | None = None) -> None:
        """Live updates for one agent or manager; `token` is `sign_token(secret, person_id)`."""
        # Accept first: a close before the handshake reaches the browser as a bare HTTP 403,
        # without the code and reason the console needs to tell "log in again" from an outage.
        await websocket.accept()
        if not verify_token(secret, person_id, token):
            log.info("push.refused", person_id=person_id)
            await websocket.close(code=CLOSE_UNAUTHORISED, reason="invalid or missing token")
            return
        hub.add(person_id, websocket)
        try:
            while True:
                text = await websocket.receive_text()
                if _is_ping(text):
                    await websocket.send_text(json.dumps({"type": "pong"}))
        except WebSocketDisconnect:
            pass
        finally:
            hub.remove(person_id, websocket)

    @router.get(
        "/deliveries",
        tags=["deliveries"],
        summary="The delivery log, newest first; optionally for one ticket.",
    )
    async def list_deliveries(
        ticket_id: str | None = Query(default=None, description="Only this ticket's."),
        limit: int = Query(default=100, ge=1, le=1000),
    ) -> list[Delivery]:
        return await deliveries.list(ticket_id=ticket_id, limit=limit)

    return router
