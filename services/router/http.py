"""The router's HTTP API: agents' current load and each ticket's assignment."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from services.router.handlers import RouterState


class AgentLoad(BaseModel):
    agent_id: str
    team: str
    open_tickets: int = Field(description="Tickets assigned and not yet resolved or closed.")
    capacity: int = Field(description="Open tickets the agent can hold.")


class AssignmentView(BaseModel):
    ticket_id: str
    agent_id: str
    team: str
    released: bool = Field(description="The ticket was resolved or closed and no longer counts.")
    reason: str


def routes(state: RouterState) -> APIRouter:
    router = APIRouter(tags=["routing"])

    @router.get("/agents/load", summary="Open tickets and capacity of every agent, by team.")
    async def agents_load() -> list[AgentLoad]:
        agents = [(team, agent) for team in state.directory.teams for agent in team.agents]
        loads = await state.store.loads(agent.person_id for _, agent in agents)
        return [
            AgentLoad(
                agent_id=agent.person_id,
                team=team.name,
                open_tickets=loads.get(agent.person_id, 0),
                capacity=agent.capacity,
            )
            for team, agent in agents
        ]

    @router.get(
        "/tickets/{ticket_id}/assignment",
        summary="Who the ticket was assigned to, and why.",
        responses={404: {"description": "The ticket has not been assigned."}},
    )
    async def ticket_assignment(ticket_id: str) -> AssignmentView:
        assignment = await state.store.assignment(ticket_id)
        if assignment is None:
            raise HTTPException(404, f"no assignment recorded for ticket {ticket_id}")
        return AssignmentView(
            ticket_id=assignment.ticket_id,
            agent_id=assignment.agent_id,
            team=assignment.team,
            released=assignment.released,
            reason=assignment.reason,
        )

    return router
