"""The SLA service's HTTP API: a ticket's clocks, for consoles and reports."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from services.sla.store import ClockStore


class ClockView(BaseModel):
    metric: str
    status: str
    started_at: datetime
    due_at: datetime
    closed_at: datetime | None
    team: str | None
    assignee_id: str | None
    priority: str | None


class TicketSla(BaseModel):
    ticket_id: str
    clocks: list[ClockView]


def routes(store: ClockStore) -> APIRouter:
    router = APIRouter(tags=["sla"])

    @router.get("/tickets/{ticket_id}/sla", summary="The SLA clocks of one ticket.")
    async def ticket_sla(ticket_id: str) -> TicketSla:
        clocks = await store.for_ticket(ticket_id)
        if not clocks:
            raise HTTPException(404, f"no SLA clocks for ticket {ticket_id}: not routed yet?")
        order = {"first_response": 0, "next_reply": 1, "resolution": 2}
        return TicketSla(
            ticket_id=ticket_id,
            clocks=[
                ClockView.model_validate(c.model_dump())
                for c in sorted(clocks, key=lambda c: order.get(c.metric, 9))
            ],
        )

    return router
