"""A service's static page: its HTML at one path and its own script, styles and images under
`<path>/static/{name}`, nothing else (no listing, no path below the folder). The page carries no
data, so both are public; what it shows comes from the service's API with the person's token.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse

_PREFIX = re.compile(r"(?:/[A-Za-z0-9._~-]+)*/?")

#: The files a page may have, by ending (any other file in its folder is not served).
MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


def serve_page(
    router: APIRouter | FastAPI,
    path: str,
    folder: Path,
    *,
    headers: Mapping[str, str],
    dependencies: Sequence[Any],
) -> None:
    """Serve `folder/index.html` at `path` with `headers` (its CSP above all), and its files
    by name under `path/static/`."""
    assets = {p.name: p for p in folder.iterdir() if p.suffix in MEDIA_TYPES}
    page_headers = dict(headers)

    @router.get(path, include_in_schema=False, dependencies=list(dependencies))
    async def page() -> FileResponse:
        return FileResponse(folder / "index.html", media_type="text/html", headers=page_headers)

    @router.get(f"{path}/static/{{name}}", include_in_schema=False, dependencies=list(dependencies))
    async def page_asset(name: str) -> FileResponse:
        found = assets.get(name)
        if found is None:
            raise HTTPException(404, f"the page has no file {name!r}")
        return FileResponse(
            found,
            media_type=MEDIA_TYPES[found.suffix],
            headers={"X-Content-Type-Options": "nosniff"},
        )


def public_base(request: Request, public_url: str | None) -> str:
    """Where the browser reaches this service: its `public_url` setting, else this request's
    base URL under the gateway's `X-Forwarded-Prefix` (a prefix that is no plain path is
    ignored), without a trailing slash."""
    if public_url:
        return public_url.rstrip("/")
    prefix = request.headers.get("X-Forwarded-Prefix", "")
    if len(prefix) > 200 or not _PREFIX.fullmatch(prefix):
        prefix = ""
    return str(request.base_url).rstrip("/") + prefix.rstrip("/")


def cookie_scope(base: str, path: str) -> dict[str, Any]:
    """A cookie for `path` under the public `base`: sent only there, and only over https when
    the browser reaches the service by https."""
    return {"path": urlsplit(base).path.rstrip("/") + path, "secure": base.startswith("https://")}
