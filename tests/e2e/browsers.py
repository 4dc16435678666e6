"""Headless Chromium for the browser tests (Debian's package, driven by Playwright): where it is,
how it is started, a fresh page per test, and where screenshots go."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from tests.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
#: `make test` installs it (the Makefile's `browser` target); a bare `pytest` may not have it.
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed (Debian package `chromium`)"
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def artefacts_dir() -> Path:
    """Where screenshots are kept (`HELPDESK_TEST_ARTEFACTS`, by default `.run/artefacts`)."""
    folder = Path(os.environ.get("HELPDESK_TEST_ARTEFACTS", ROOT / ".run" / "artefacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@asynccontextmanager
async def fresh_page(browser: Browser, width: int, height: int) -> AsyncIterator[Page]:
    """A page in a context of its own, closed after (which also ends its event streams before
    the server is asked to stop)."""
    context = await browser.new_context(viewport={"width": width, "height": height})
    try:
        yield await context.new_page()
    finally:
        await context.close()
