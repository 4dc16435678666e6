"""The agents' workspace over HTTP: one ticket's full view, and a search of the caller's
tickets. Staff only; a ticket the caller may not see is answered as unknown (404)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Query

from services.notifier.service import NotifierService
from shared.access import Access, Person
from shared.errors import Problem

#: Most results one search returns.
SEARCH_LIMIT = 50


def workspace_routes(router: FastAPI, access: Access, service: NotifierService) -> None:
    staff = Depends(access.staff)

    @router.get(
        "/tickets",
        tags=["workspace"],
        summary="Search the caller's tickets by reference, customer or text; newest first.",
        description="A reference matches from its start, the customer (name or id), subject "
        "and messages anywhere; case does not matter and the text is never a pattern. Only "
        "tickets the caller may open: their own, and their teams'.",
    )
    async def search_tickets(
        q: str = Query(min_length=1, max_length=200, description="The text to find."),
        limit: int = Query(default=20, ge=1, le=SEARCH_LIMIT),
        person: Person = staff,
    ) -> list[dict[str, Any]]:
        return await service.search_tickets(person, q, limit)

    @router.get(
        "/tickets/{ticket_id}",
        tags=["workspace"],
        summary="One ticket as the workspace shows it: facts, SLA clocks, timeline, "
        "suggested articles.",
        description="The timeline holds the latest 500 entries, in time order.",
        responses={404: {"description": "Unknown, or not yours to see.", "model": Problem}},
    )
    async def ticket_view(ticket_id: str, person: Person = staff) -> dict[str, Any]:
        return await service.ticket_view(person, ticket_id)
