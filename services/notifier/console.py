"""The agent workspace: one static page (`GET /console`) with the signed-in agent's live queue
and the ticket they open in it.

The page is plain HTML, CSS and JavaScript under `console/`, with no build step: i18n.js the
words, common.js the shared helpers, console.js sign-in, queue and live channel, escalations.js
escalations and notices, workspace.js the ticket panel, actions.js what the agent does. Every
address it uses is relative, so it works at the notifier's `/console` and at the gateway's
`/notifier/console`. It calls the notifier's API (me, board, events, tickets, escalations)
and, behind the gateway, intake, kb and router, with the agent's bearer token in a header (the
live stream alone takes it in its query: EventSource cannot send headers).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI

from shared.access import Access
from shared.pages import serve_page

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


def mount(app: FastAPI, access: Access) -> None:
    """Serve the console page at `/console` and its script and styles under `/console/static/`,
    both public (rate-limited per client): they carry no data, the API they call is staff's."""
    serve_page(app, "/console", ASSETS, headers=PAGE_HEADERS, dependencies=[Depends(access.public)])
