"""Request size limits for every service's HTTP API: a body past its route's limit is refused
with 413 before it is read whole, whether or not the client declared its length."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: `limit` bytes per request body, or more on the paths in `larger`
    (exact paths, or route templates such as `/tickets/{ticket_id}/reply`, where a `{name}`
    stands for one path segment)."""

    def __init__(self, app: ASGIApp, limit: int, larger: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.larger = {path: n for path, n in (larger or {}).items() if "{" not in path}
        self.templates = [
            (re.compile(_template(path)), n) for path, n in (larger or {}).items() if "{" in path
        ]

    def limit_for(self, path: str) -> int:
        if path in self.larger:
            return self.larger[path]
        return next((n for pattern, n in self.templates if pattern.fullmatch(path)), self.limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, limit)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, sending)
        except BodyTooLarge:
            if not started:
                await _refuse(send, limit)


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"the request body is over the limit of {limit} bytes"})
    headers: list[Any] = [(b"content-type", b"application/json"), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body.encode()})


def _template(path: str) -> str:
    """A route template as a pattern: its text literal, each `{name}` one path segment."""
    return "".join(
        "[^/]+" if part.startswith("{") else re.escape(part)
        for part in re.split(r"(\{[^}/]+\})", path)
    )
