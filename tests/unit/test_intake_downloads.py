"""How an attachment is served to agents: anything a browser could render or run is bytes,
and the file name travels RFC 2231-encoded."""

from __future__ import annotations

import pytest

from services.intake.downloads import download_headers, served_type
from services.intake.store import StoredFile


@pytest.mark.parametrize(
    ("stored", "served"),
    [
        ("application/pdf", "application/pdf"),
        ("image/png", "image/png"),
        ("text/plain; charset=utf-8", "text/plain"),
        ("text/html", "application/octet-stream"),
        ("TEXT/HTML; charset=utf-8", "application/octet-stream"),
        ("image/svg+xml", "application/octet-stream"),
        ("application/xhtml+xml", "application/octet-stream"),
        ("text/xml", "application/octet-stream"),
        ("application/rss+xml", "application/octet-stream"),
        ("application/javascript", "application/octet-stream"),
        ("text/javascript", "application/octet-stream"),
        ("nonsense", "application/octet-stream"),
        ("text/plain\r\nX-Evil: 1", "application/octet-stream"),
        ("", "application/octet-stream"),
    ],
)
def test_active_content_is_served_as_bytes(stored: str, served: str) -> None:
    assert served_type(stored) == served


def test_the_file_name_is_encoded_not_pasted() -> None:
    headers = download_headers(StoredFile("f-1", 'فاکتور "1".pdf\r\nX: y', "application/pdf", b""))
    disposition = headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename*=UTF-8''")
    assert disposition.isascii() and "\r" not in disposition and '"' not in disposition
    assert headers["Content-Security-Policy"] == "sandbox"
