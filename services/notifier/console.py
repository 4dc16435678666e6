"""The agent console: one static page (`GET /console`) showing the signed-in agent's queue live.

The page is plain HTML, CSS and JavaScript under `console/`; it talks to the notifier's own API
(/me, /board, /events, /escalations/...) with the agent's bearer token.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import FileResponse

from shared.access import Access

ASSETS = Path(__file__).with_suffix("")
#: The page's script and styles, by the name the page asks for (nothing else is served).
MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css"}

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


def mount(app: FastAPI, access: Access) -> None:
    """Serve the console page at `/console` and its script and styles under `/console/static/`,
    both public (rate-limited per client): they carry no data, the API they call is staff's."""
    assets = {p.name: p for p in ASSETS.iterdir() if p.suffix in MEDIA_TYPES}
    public = [Depends(access.public)]

    @app.get("/console", include_in_schema=False, dependencies=public)
    async def console_page() -> FileResponse:
        return FileResponse(ASSETS / "index.html", media_type="text/html", headers=PAGE_HEADERS)

    @app.get("/console/static/{name}", include_in_schema=False, dependencies=public)
    async def console_asset(name: str) -> FileResponse:
        path = assets.get(name)
        if path is None:
            raise HTTPException(status_code=404)
        return FileResponse(
            path,
            media_type=MEDIA_TYPES[path.suffix],
            headers={"X-Content-Type-Options": "nosniff"},
        )
