"""Intake's HTTP API: adapters post contacts; agents reply and resolve; anyone reads tickets."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status
from faststream.kafka import KafkaBroker
from pydantic import AwareDatetime, BaseModel, Field

from services.intake.domain import InvalidTransition, status_after
from services.intake.settings import IntakeSettings
from services.intake.store import IntakeStore
from shared.broker import publish_event
from shared.events import ContactReceived, Event, TicketAgentReplied, TicketStatusChanged
from shared.events.contacts import ContactPayload
from shared.ids import ticket_id_for_contact


class ContactSubmission(BaseModel):
    """A contact as a channel adapter posts it."""

    contact_id: str = Field(min_length=1, max_length=200, description="Adapter's unique id.")
    received_at: AwareDatetime | None = Field(default=None, description="When it arrived.")
    language: str | None = Field(default=None, description="Language hint (ISO 639-1).")
    message: ContactPayload = Field(description="Email, call record or chat message.")


class Accepted(BaseModel):
    contact_id: str
    event_id: str
    ticket_id: str = Field(description="The ticket this contact opens if it is new.")


class AgentReply(BaseModel):
    agent_id: str = Field(min_length=1)
    body: str = Field(min_length=1, max_length=100_000)


class AgentResolve(BaseModel):
    agent_id: str = Field(min_length=1)
    reason: str | None = Field(default=None, max_length=2_000)


class ActionAccepted(BaseModel):
    ticket_id: str
    event_id: str
    event_type: str


def routes(broker: KafkaBroker, settings: IntakeSettings, store: IntakeStore) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/contacts",
        status_code=status.HTTP_202_ACCEPTED,
        tags=["contacts"],
        summary="Submit a contact from a channel adapter.",
    )
    async def submit_contact(submission: ContactSubmission) -> Accepted:
        contact = ContactReceived(**submission.model_dump())
        await publish_event(broker, settings.topics.contacts, contact)
        return Accepted(
            contact_id=contact.contact_id,
            event_id=str(contact.event_id),
            ticket_id=ticket_id_for_contact(contact.contact_id),
        )

    async def act(ticket_id: str, action: str, build: Any) -> ActionAccepted:
        ticket = await store.ticket(ticket_id)
        if ticket is None:
            raise HTTPException(404, f"no ticket {ticket_id}")
        try:
            new_status = status_after(ticket["status"], action)
        except InvalidTransition as exc:
            raise HTTPException(409, str(exc)) from exc
        event: Event = build(ticket)
        if new_status is not None:
            # Claim the change first, so two agents resolving at once publish it once.
            if not await store.transition(ticket_id, ticket["status"], new_status):
                raise HTTPException(409, f"ticket {ticket_id} changed meanwhile; reload it")
            try:
                await publish_event(broker, settings.topics.tickets, event)
            except Exception:
                await store.transition(ticket_id, new_status, ticket["status"])
                raise
        else:
            await publish_event(broker, settings.topics.tickets, event)
        await store.record(ticket_id, event)
        return ActionAccepted(
            ticket_id=ticket_id, event_id=str(event.event_id), event_type=event.event_type
        )

    def chain(ticket: dict[str, Any]) -> dict[str, Any]:
        opened = ticket["opened_event"]
        return {"correlation_id": opened.get("correlation_id"), "causation_id": opened["event_id"]}

    @router.post(
        "/tickets/{ticket_id}/reply",
        status_code=status.HTTP_202_ACCEPTED,
        tags=["agents"],
        summary="An agent replies to the customer.",
    )
    async def reply(ticket_id: str, body: AgentReply) -> ActionAccepted:
        return await act(
            ticket_id,
            "reply",
            lambda t: TicketAgentReplied(
                ticket_id=ticket_id, agent_id=body.agent_id, body=body.body, **chain(t)
            ),
        )

    @router.post(
        "/tickets/{ticket_id}/resolve",
        status_code=status.HTTP_202_ACCEPTED,
        tags=["agents"],
        summary="An agent resolves the ticket.",
    )
    async def resolve(ticket_id: str, body: AgentResolve) -> ActionAccepted:
        return await act(
            ticket_id,
            "resolve",
            lambda t: TicketStatusChanged(
                ticket_id=ticket_id,
                status="resolved",
                previous_status=t["status"],
                agent_id=body.agent_id,
                reason=body.reason,
                **chain(t),
            ),
        )

    @router.get("/tickets/{ticket_id}", tags=["tickets"], summary="A ticket and its history.")
    async def get_ticket(ticket_id: str) -> dict[str, Any]:
        ticket = await store.ticket(ticket_id)
        if ticket is None:
            raise HTTPException(404, f"no ticket {ticket_id}")
        ticket.pop("opened_event", None)
        ticket["ticket_id"] = ticket.pop("_id")
        return ticket

    @router.get(
        "/customers/{customer_id}",
        tags=["customers"],
        summary="A customer, their identities and previous tickets.",
    )
    async def get_customer(customer_id: str) -> dict[str, Any]:
        customer = await store.customer(customer_id)
        if customer is None:
            raise HTTPException(404, f"no customer {customer_id}")
        tickets = await store.tickets_of(customer_id)
        return {
            "customer_id": customer["_id"],
            "identities": customer["identities"],
            "plan": customer.get("plan", "standard"),
            "tickets": [
                {
                    "ticket_id": t["_id"],
                    "reference": t["reference"],
                    "status": t["status"],
                    "subject": t["subject"],
                    "opened_at": t["opened_at"],
                    "notes": [h for h in t["history"] if h["event_type"] == "ticket.note_added"],
                }
                for t in tickets
            ],
        }

    return router
