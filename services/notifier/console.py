"""The agent console: one static page (`GET /console`) showing the signed-in agent's queue live.

The page is plain HTML, CSS and JavaScript under `console/`; it talks to the notifier's own API
(/me, /board, /events, /escalations/...) with the agent's bearer token.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import Scope

ASSETS = Path(__file__).with_suffix("")

#: Only the page's own files may run or style it; customer text can never become markup.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "
        "script-src 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # The page carries no data, but a token may sit in its address until the script reads it.
    "Cache-Control": "no-store",
}


class _Assets(StaticFiles):
    """The page's script and styles only: the page itself is served with its headers above."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if not path.endswith((".js", ".css")):
            raise HTTPException(status_code=404)
        response = await super().get_response(path, scope)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def mount(app: FastAPI) -> None:
    """Serve the console page at `/console` and its script and styles under `/console/static/`."""

    @app.get("/console", include_in_schema=False)
    async def console_page() -> FileResponse:
        return FileResponse(ASSETS / "index.html", media_type="text/html", headers=PAGE_HEADERS)

    app.mount("/console/static", _Assets(directory=ASSETS), name="console-static")
