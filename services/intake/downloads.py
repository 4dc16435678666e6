"""Agents download a ticket's attachments with the rights they have on the ticket; a file is
always a download, never a page: nothing a customer sent can run in an agent's browser."""

from __future__ import annotations

from collections.abc import Iterator
from email.utils import encode_rfc2231
from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import Response

from services.intake.store import IntakeStore, StoredFile
from shared.access import Access, Person

#: Types a browser may render as a document or run as a script, whatever the file says it is.
_ACTIVE_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/javascript",
        "application/javascript",
        "application/x-javascript",
        "application/ecmascript",
        "text/ecmascript",
        "text/xsl",
        "application/xslt+xml",
        "multipart/x-mixed-replace",
    }
)
_ACTIVE_WORDS = ("html", "xml", "script", "svg")
FALLBACK_TYPE = "application/octet-stream"


def served_type(content_type: str) -> str:
    """The Content-Type a stored file is served with: its own, unless it could be active
    content (or is not a type at all), which is served as bytes."""
    essence = content_type.split(";", 1)[0].strip().lower()
    kind, slash, sub = essence.partition("/")
    if not (kind and slash and sub) or any(c in essence for c in " \t\r\n,"):
        return FALLBACK_TYPE
    if essence in _ACTIVE_TYPES or any(word in essence for word in _ACTIVE_WORDS):
        return FALLBACK_TYPE
    return essence


def download_headers(stored: StoredFile) -> dict[str, str]:
    """Headers that make the file a download the browser neither sniffs, caches nor runs."""
    return {
        "Content-Disposition": "attachment; filename*=" + encode_rfc2231(stored.filename, "UTF-8"),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
        "Content-Security-Policy": "sandbox",
    }


def stored_ids(ticket: dict[str, Any]) -> Iterator[str]:
    """The stored ids of every attachment the ticket's history carries."""
    for entry in ticket.get("history", []):
        for attachment in entry.get("attachments") or []:
            if attachment.get("stored_id"):
                yield str(attachment["stored_id"])


def download_routes(store: IntakeStore, access: Access) -> APIRouter:
    router = APIRouter()
    Staff = Depends(access.staff)

    @router.get(
        "/tickets/{ticket_id}/attachments/{stored_id}",
        tags=["tickets"],
        summary="Download one of a ticket's attachments (the ticket's team or assignee).",
        response_class=Response,
        responses={200: {"content": {FALLBACK_TYPE: {"schema": {"type": "string"}}}}},
    )
    async def download(ticket_id: str, stored_id: str, person: Person = Staff) -> Response:
        ticket = await store.ticket(ticket_id)
        missing = HTTPException(404, f"no attachment {stored_id} on ticket {ticket_id}")
        if ticket is None or not person.sees_ticket(ticket.get("team"), ticket.get("agent_id")):
            raise missing
        if stored_id not in set(stored_ids(ticket)):
            raise missing
        stored = await store.attachment(stored_id)
        if stored is None:
            raise missing
        return Response(
            stored.data,
            media_type=served_type(stored.content_type),
            headers=download_headers(stored),
        )

    return router
