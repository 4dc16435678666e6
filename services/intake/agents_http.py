"""Agents' actions over HTTP: each one a ticket event, by an authenticated agent of the
ticket's team, published once even when the request is retried with the same key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Header, HTTPException, status
from pydantic import BaseModel, Field, field_validator

from services.intake.domain import InvalidTransition, status_after
from services.intake.store import IntakeStore
from shared.access import Access, Person
from shared.directory import Directory
from shared.errors import Problem, unprocessable
from shared.events import (
    Event,
    TicketAgentReplied,
    TicketEscalationRequested,
    TicketNoteAdded,
    TicketPriorityChanged,
    TicketStatusChanged,
    TicketTransferRequested,
    ticket_events,
)
from shared.events.tickets import Priority, TicketStatus, Tier
from shared.ids import derived_id
from shared.publishing import Publisher


class Text(BaseModel):
    body: str = Field(min_length=1, max_length=100_000, description="What the agent writes.")


class Reason(BaseModel):
    reason: str | None = Field(default=None, max_length=2_000, description="Why, in words.")


class Resolution(Reason):
    resolution_note: str | None = Field(
        default=None,
        max_length=20_000,
        description="How the problem was solved; the knowledge base drafts an article from it.",
    )

    @field_validator("resolution_note")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        # An empty box in the agent's form is no note, not an empty article draft.
        return value if value and value.strip() else None


class Escalation(BaseModel):
    reason: str = Field(min_length=1, max_length=2_000)
    to_tier: Tier | None = Field(default=None, description="Tier asked for; none: the next one.")


class Transfer(BaseModel):
    to_team: str = Field(min_length=1)
    to_agent_id: str | None = None
    reason: str = Field(min_length=1, max_length=2_000)


class PriorityChange(BaseModel):
    priority: Priority
    reason: str = Field(min_length=1, max_length=2_000)


class ActionAccepted(BaseModel):
    ticket_id: str
    event_id: str
    event_type: str


@dataclass(frozen=True)
class Acting:
    """What building an action's event needs: the ticket, the agent, the envelope, the status."""

    ticket: dict[str, Any]
    agent_id: str
    envelope: dict[str, Any]
    new_status: TicketStatus | None


Build = Callable[[Acting], Event]


def taken_before(
    ticket: dict[str, Any], agent_id: str, action: str, key: str | None
) -> Event | None:
    """The event an earlier request of this agent with this key recorded on the ticket."""
    if not key:
        return None
    event_id = str(derived_id("agent-action", agent_id, ticket["_id"], action, key))
    for entry in ticket.get("history", ()):
        if entry.get("event_id") == event_id:
            return ticket_events.validate_python(entry)
    return None


def agent_routes(
    tickets: Publisher, store: IntakeStore, directory: Directory, access: Access
) -> APIRouter:
    router = APIRouter(tags=["agents"])

    async def act(
        ticket_id: str, action: str, person: Person, key: str | None, build: Build
    ) -> ActionAccepted:
        ticket = await store.ticket(ticket_id)
        # Another team's ticket is answered as if it did not exist: its existence is theirs.
        if ticket is None or not person.sees_ticket(ticket.get("team"), ticket.get("agent_id")):
            raise HTTPException(404, f"no ticket {ticket_id}")
        if ticket.get("erased"):
            # Its customer's data is gone: there is nobody to answer and nothing to act on.
            raise HTTPException(409, f"ticket {ticket_id} is erased")
        agent_id = person.person_id
        taken = taken_before(ticket, agent_id, action, key)
        if taken is not None:
            # An earlier try with this key took effect here, and a crash may have cut it off
            # before its event went out: announce it again (consumers drop a repeat by id).
            await tickets.publish(taken)
            return ActionAccepted(
                ticket_id=ticket_id, event_id=str(taken.event_id), event_type=taken.event_type
            )
        try:
            new_status = status_after(ticket["status"], action)
        except InvalidTransition as exc:
            raise HTTPException(409, str(exc)) from exc
        envelope = {
            "ticket_id": ticket_id,
            "customer_id": ticket["customer_id"],
            "correlation_id": ticket.get("contact_id"),
            "causation_id": ticket["opened_event"]["event_id"],
        }
        if key:
            # A retried request with the same key publishes the same event id: consumers drop it.
            envelope["event_id"] = derived_id("agent-action", agent_id, ticket_id, action, key)
        event = build(Acting(ticket, agent_id, envelope, new_status))
        if new_status is not None:
            # Claim the change first, so two agents resolving at once publish it once; its
            # history entry is written with it, so a retry after a crash finds what it claimed.
            if not await store.transition(ticket_id, ticket["status"], new_status, event):
                raise HTTPException(409, f"ticket {ticket_id} changed meanwhile; reload it")
            try:
                await tickets.publish(event)
            except Exception:
                await store.transition(
                    ticket_id, new_status, ticket["status"], dropping=str(event.event_id)
                )
                raise
        else:
            await tickets.publish(event)
            await store.record(ticket_id, event)
        return ActionAccepted(
            ticket_id=ticket_id, event_id=str(event.event_id), event_type=event.event_type
        )

    def endpoint(path: str, summary: str, description: str | None = None) -> Callable[[Any], Any]:
        return router.post(
            f"/tickets/{{ticket_id}}/{path}",
            status_code=status.HTTP_202_ACCEPTED,
            summary=summary,
            description=description,
            responses={
                409: {
                    "description": "The action does not fit the ticket's status, the "
                    "ticket changed meanwhile, or its customer's data is erased.",
                    "model": Problem,
                }
            },
        )

    Agent = Depends(access.staff)
    Key = Header(default=None, alias="Idempotency-Key", max_length=200)

    @endpoint("reply", "Reply to the customer (mailed to them on email tickets).")
    async def reply(
        ticket_id: str, body: Text, agent: Person = Agent, key: str | None = Key
    ) -> ActionAccepted:
        def build(x: Acting) -> Event:
            return TicketAgentReplied(agent_id=x.agent_id, body=body.body, **x.envelope)

        return await act(ticket_id, "reply", agent, key, build)

    @endpoint("notes", "Add an internal note the customer never sees.")
    async def note(
        ticket_id: str, body: Text, agent: Person = Agent, key: str | None = Key
    ) -> ActionAccepted:
        def build(x: Acting) -> Event:
            return TicketNoteAdded(agent_id=x.agent_id, body=body.body, **x.envelope)

        return await act(ticket_id, "note", agent, key, build)

    def status_event(body: Reason, resolution_note: str | None = None) -> Build:
        # The new status comes from the domain's table of actions (`status_after`).
        def build(x: Acting) -> Event:
            assert x.new_status is not None
            return TicketStatusChanged(
                status=x.new_status,
                previous_status=x.ticket["status"],
                agent_id=x.agent_id,
                reason=body.reason,
                resolution_note=resolution_note,
                **x.envelope,
            )

        return build

    def status_change(action: str) -> Callable[..., Awaitable[ActionAccepted]]:
        async def change(
            ticket_id: str, body: Reason, agent: Person = Agent, key: str | None = Key
        ) -> ActionAccepted:
            return await act(ticket_id, action, agent, key, status_event(body))

        return change

    for action, summary in (
        ("pending", "Wait on the customer (SLA clocks pause)."),
        ("on_hold", "Put on hold (SLA clocks pause)."),
        ("reopen", "Reopen a resolved or closed ticket."),
    ):
        endpoint(action.replace("_", "-"), summary)(status_change(action))

    @endpoint(
        "resolve",
        "Resolve the ticket.",
        "`resolution_note` (optional, up to 20,000 characters), how the problem was solved, "
        "rides on `ticket.status_changed`; the knowledge base drafts an article from it.",
    )
    async def resolve(
        ticket_id: str, body: Resolution, agent: Person = Agent, key: str | None = Key
    ) -> ActionAccepted:
        return await act(ticket_id, "resolve", agent, key, status_event(body, body.resolution_note))

    @endpoint("escalate", "Ask for the ticket to go up a tier.")
    async def escalate(
        ticket_id: str, body: Escalation, agent: Person = Agent, key: str | None = Key
    ) -> ActionAccepted:
        def build(x: Acting) -> Event:
            return TicketEscalationRequested(
                agent_id=x.agent_id, to_tier=body.to_tier, reason=body.reason, **x.envelope
            )

        return await act(ticket_id, "escalate", agent, key, build)

    @endpoint("transfer", "Ask for the ticket to move to another team or agent.")
    async def transfer(
        ticket_id: str, body: Transfer, agent: Person = Agent, key: str | None = Key
    ) -> ActionAccepted:
        if directory.team(body.to_team) is None:
            raise unprocessable(f"no team {body.to_team!r}", "body", "to_team", kind="no_team")

        def build(x: Acting) -> Event:
            return TicketTransferRequested(
                agent_id=x.agent_id,
                to_team=body.to_team,
                to_agent_id=body.to_agent_id,
                reason=body.reason,
                **x.envelope,
            )

        return await act(ticket_id, "transfer", agent, key, build)

    @endpoint("priority", "Change the ticket's priority.")
    async def priority(
        ticket_id: str, body: PriorityChange, agent: Person = Agent, key: str | None = Key
    ) -> ActionAccepted:
        def build(x: Acting) -> Event:
            return TicketPriorityChanged(
                priority=body.priority,
                previous_priority=x.ticket.get("priority"),
                agent_id=x.agent_id,
                reason=body.reason,
                **x.envelope,
            )

        return await act(ticket_id, "priority", agent, key, build)

    return router
