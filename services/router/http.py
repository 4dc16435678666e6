"""The router's HTTP API: each team's queue, agents' load and presence, each ticket's routing
and its reasons, and the tickets passed around most."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from services.router.desk import Desk
from services.router.domain.tickets import RoutedTicket
from shared.events import AgentPresenceChanged, Presence, QueueOrder
from shared.events.tickets import Channel, Priority, Tier

AgentDependency = Callable[..., Awaitable[str]]
Publish = Callable[[AgentPresenceChanged], Awaitable[None]]


class QueuedTicket(BaseModel):
    position: int = Field(description="1 is next.")
    ticket_id: str
    priority: Priority
    tier: Tier
    difficulty: str
    channel: Channel
    language: str | None
    category: str
    queued_at: datetime | None
    waiting_seconds: float
    reason: str | None = Field(description="Why nobody took it yet.")


class QueueView(BaseModel):
    team: str
    order: QueueOrder
    tickets: list[QueuedTicket]


class AgentView(BaseModel):
    agent_id: str
    team: str
    tier: Tier
    presence: Presence
    on_shift: bool
    open_tickets: dict[str, int] = Field(description="Tickets held, per channel.")
    capacity: dict[str, int] = Field(description="Tickets the agent can hold, per channel.")


class PresenceChange(BaseModel):
    presence: Presence


class PresenceAccepted(BaseModel):
    agent_id: str
    presence: Presence
    event_id: str


def _ticket_view(ticket: RoutedTicket) -> dict[str, object]:
    return ticket.model_dump(mode="json", exclude={"routed_event"})


def routes(desk: Desk, publish: Publish, current_agent: AgentDependency) -> APIRouter:
    router = APIRouter(tags=["routing"])
    # A default, not an annotation: FastAPI cannot resolve a local name in a string annotation.
    caller_agent = Depends(current_agent)

    @router.get(
        "/queues/{team}",
        summary="A team's queue in the order its tickets will be taken.",
        responses={404: {"description": "No such team."}},
    )
    async def queue(team: str, limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> QueueView:
        if desk.directory.team(team) is None:
            raise HTTPException(404, f"no team {team!r} in teams.yaml")
        order = desk.rules.queues.order_for(team)
        now = desk.clock.now()
        waiting = await desk.store.queued(team, order, limit)
        return QueueView(
            team=team,
            order=order,
            tickets=[
                QueuedTicket(
                    position=n,
                    ticket_id=t.ticket_id,
                    priority=t.priority,
                    tier=t.tier,
                    difficulty=t.difficulty,
                    channel=t.channel,
                    language=t.language,
                    category=t.category if not t.subcategory else f"{t.category}/{t.subcategory}",
                    queued_at=t.queued_at,
                    waiting_seconds=(now - t.queued_at).total_seconds() if t.queued_at else 0.0,
                    reason=t.queue_reason,
                )
                for n, t in enumerate(waiting, start=1)
            ],
        )

    @router.get("/agents", summary="Every agent's tier, presence, shift, load and capacity.")
    async def agents() -> list[AgentView]:
        views = []
        for team in desk.directory.teams:
            for state in await desk.agent_states(team.name):
                views.append(
                    AgentView(
                        agent_id=state.agent_id,
                        team=team.name,
                        tier=state.agent.tier,
                        presence=state.presence,
                        on_shift=state.on_shift,
                        open_tickets={ch: len(ids) for ch, ids in state.open.items()},
                        capacity=dict(state.agent.capacity),
                    )
                )
        return views

    @router.put(
        "/agents/{agent_id}/presence",
        status_code=202,
        summary="An agent reports being online, away or offline (their own token).",
        responses={
            401: {"description": "No valid agent token."},
            403: {"description": "Another agent's presence."},
            404: {"description": "No such agent."},
        },
    )
    async def set_presence(
        agent_id: str, change: PresenceChange, caller: str = caller_agent
    ) -> PresenceAccepted:
        if desk.directory.agent(agent_id) is None:
            raise HTTPException(404, f"no agent {agent_id!r} in teams.yaml")
        if caller != agent_id:
            raise HTTPException(403, f"{caller} may report only their own presence")
        event = AgentPresenceChanged(agent_id=agent_id, presence=change.presence, source="http")
        await publish(event)
        return PresenceAccepted(
            agent_id=agent_id, presence=change.presence, event_id=str(event.event_id)
        )

    @router.get(
        "/tickets/{ticket_id}/routing",
        summary="How the ticket was routed, where it stands, and every decision in words.",
        responses={404: {"description": "The router has not seen the ticket."}},
    )
    async def ticket_routing(ticket_id: str) -> dict[str, object]:
        stored = await desk.store.ticket(ticket_id)
        if stored is None:
            raise HTTPException(404, f"no routing recorded for ticket {ticket_id}")
        return _ticket_view(stored[0])

    @router.get("/reports/transfers", summary="Tickets passed around most: transfers per ticket.")
    async def transfers(
        at_least: Annotated[int, Query(ge=1)] = 1,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, object]]:
        return [
            {
                "ticket_id": t.ticket_id,
                "team": t.team,
                "transfer_count": t.transfer_count,
                "reported": t.transfers_reported,
                "history": list(t.history),
            }
            for t in await desk.store.passed_around(at_least, limit)
        ]

    return router
