"""The router's HTTP API: each team's queue, agents' load and presence and the tickets they hold,
each ticket's routing and its reasons, and the tickets passed around most."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from services.router.domain.tickets import RoutedTicket
from services.router.service import RouterService, UnknownAgent, UnknownTeam
from shared.access import Access, Person
from shared.errors import refusal
from shared.events import AgentPresenceChanged, Presence, QueueOrder
from shared.events.tickets import Channel, Priority, Tier

Publish = Callable[[AgentPresenceChanged], Awaitable[None]]


class NotRouted(LookupError):
    """The router has not seen the ticket."""


class NotYours(PermissionError):
    """Somebody else's team or agent."""


#: Every refusal of the API, by the domain error behind it.
ERRORS: dict[type[Exception], int] = {
    UnknownTeam: 404,
    UnknownAgent: 404,
    NotRouted: 404,
    NotYours: 403,
}


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
    return ticket.model_dump(mode="json", exclude={"routed_event", "slot_changes"})


def serve(app: FastAPI, router: RouterService, publish: Publish, access: Access) -> None:
    """Mount the routes and answer refusals by `ERRORS`."""
    for error, code in ERRORS.items():

        async def refused(request: Request, exc: Exception, code: int = code) -> Response:
            return refusal(code, exc)

        app.add_exception_handler(error, refused)
    app.include_router(routes(router, publish, access))


def routes(router: RouterService, publish: Publish, access: Access) -> APIRouter:
    api = APIRouter(tags=["routing"])
    directory, rules, clock = router.config.directory, router.config.rules, router.clock
    # Defaults, not annotations: FastAPI cannot resolve a local name in a string annotation.
    Staff, Reports = Depends(access.staff), Depends(access.reports)

    def team_of(agent_id: str) -> str:
        team = directory.team_of(agent_id)
        if team is None:
            raise UnknownAgent(f"no agent {agent_id!r} in teams.yaml")
        return team.name

    def for_self_or_heads(person: Person, agent_id: str) -> None:
        """An agent's own, or their team's lead or manager."""
        team = team_of(agent_id)
        if person.person_id != agent_id and team not in person.heads:
            raise NotYours(f"only {agent_id} or their team's lead or manager may do this")

    @api.get(
        "/queues/{team}",
        summary="A team's queue in the order its tickets will be taken.",
        description="Agents see their own team's queue; leads and managers their teams'.",
    )
    async def queue(
        team: str, limit: Annotated[int, Query(ge=1, le=1000)] = 200, person: Person = Staff
    ) -> QueueView:
        if directory.team(team) is not None and team not in person.teams:
            raise NotYours(f"the {team} queue is not your team's")
        waiting = await router.queue(team, limit)
        now = clock.now()
        return QueueView(
            team=team,
            order=rules.queues.order_for(team),
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

    @api.get(
        "/agents",
        summary="Agents' tier, presence, shift, load and capacity (the agent directory).",
        description="Operators see every agent; leads and managers their teams' agents.",
    )
    async def agents(person: Person = Reports) -> list[AgentView]:
        return [
            AgentView(
                agent_id=state.agent_id,
                team=state.team,
                tier=state.agent.tier,
                presence=state.presence,
                on_shift=state.on_shift,
                open_tickets=dict(state.held),
                capacity=dict(state.agent.capacity),
            )
            for state in await router.agents()
            if person.operator or state.team in person.teams
        ]

    @api.get(
        "/agents/{agent_id}/tickets",
        summary="The tickets an agent holds now (the agent, or their team's lead or manager).",
    )
    async def held(
        agent_id: str, limit: Annotated[int, Query(ge=1, le=1000)] = 200, person: Person = Staff
    ) -> list[dict[str, object]]:
        for_self_or_heads(person, agent_id)
        return [_ticket_view(t) for t in await router.held_by(agent_id, limit)]

    @api.put(
        "/agents/{agent_id}/presence",
        status_code=202,
        summary="An agent is online, away or offline (the agent, or their team's lead or manager).",
    )
    async def set_presence(
        agent_id: str, change: PresenceChange, person: Person = Staff
    ) -> PresenceAccepted:
        for_self_or_heads(person, agent_id)
        event = AgentPresenceChanged(agent_id=agent_id, presence=change.presence, source="http")
        await publish(event)
        return PresenceAccepted(
            agent_id=agent_id, presence=change.presence, event_id=str(event.event_id)
        )

    @api.get(
        "/tickets/{ticket_id}/routing",
        summary="How the ticket was routed, where it stands, and every decision in words.",
    )
    async def ticket_routing(ticket_id: str, person: Person = Staff) -> dict[str, object]:
        stored = await router.store.ticket(ticket_id)
        # Another team's ticket reads as one the router has not seen.
        if stored is None or not person.sees_ticket(stored[0].team, stored[0].agent_id):
            raise NotRouted(f"no routing recorded for ticket {ticket_id}")
        return _ticket_view(stored[0])

    @api.get(
        "/reports/transfers",
        summary="Tickets passed around most: transfers per ticket.",
        description="Operators see every team; leads and managers their teams.",
    )
    async def transfers(
        at_least: Annotated[int, Query(ge=1, le=1000)] = 1,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        person: Person = Reports,
    ) -> list[dict[str, object]]:
        teams = None if person.operator else person.teams
        return [
            {
                "ticket_id": t.ticket_id,
                "team": t.team,
                "transfer_count": t.transfer_count,
                "reported": t.transfers_reported,
                "history": list(t.history),
            }
            for t in await router.store.passed_around(at_least, limit, teams)
        ]

    return api
