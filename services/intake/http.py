"""Intake's HTTP API for channel adapters (signed contacts, raw mail) and for reading tickets,
customers and call reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from statistics import quantiles
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel, Field

from services.intake.auth import adapter_dependency
from services.intake.config import IntakeRules
from services.intake.domain.submissions import normalise_submission
from services.intake.mailbox import Mailbox
from services.intake.rejections import Rejected
from services.intake.service import IntakeService, UnknownCustomer
from services.intake.settings import IntakeSettings
from services.intake.store import IntakeStore
from shared.access import Access, Person, RateLimit, Rule
from shared.errors import Problem, unprocessable
from shared.events.contacts import ContactPayload
from shared.ids import ticket_id_for_contact


class ContactSubmission(BaseModel):
    """A contact as a channel adapter posts it (documents the body; it is validated in full)."""

    contact_id: str = Field(min_length=1, max_length=200, description="Adapter's unique id.")
    received_at: datetime | None = Field(default=None, description="When it arrived.")
    language: str | None = Field(default=None, description="Language hint (ISO 639-1).")
    message: ContactPayload = Field(description="Email, call record or chat message.")


class Accepted(BaseModel):
    contact_id: str
    event_id: str
    ticket_id: str = Field(description="The ticket this contact opens if it is new.")


class Erased(BaseModel):
    customer_id: str = Field(description="The customer (the surviving record).")
    event_id: str = Field(description="The `customer.erased` event every service acts on.")
    records: int = Field(description="Customer records erased (merged ones included).")
    tickets: int = Field(description="Tickets whose personal data is erased.")


class MailAccepted(BaseModel):
    contact_id: str | None = Field(description="The contact published; none if suppressed.")
    suppressed: str | None = Field(default=None, description="Automatic mail: why no ticket.")


def _refuse(rejected: Rejected) -> HTTPException:
    """A contact refused, as every 422: one issue whose type is the rejection's kind."""
    return unprocessable(rejected.detail, "body", kind=rejected.kind)


NOT_JSON: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body is not JSON.", "model": Problem},
}


def routes(
    settings: IntakeSettings,
    rules: IntakeRules,
    store: IntakeStore,
    mailbox: Mailbox,
    access: Access,
    intake: IntakeService,
) -> APIRouter:
    router = APIRouter()
    verified = adapter_dependency(
        {k: v.get_secret_value() for k, v in settings.adapter_secrets.items()},
        settings.signature_tolerance_seconds,
    )
    per_adapter = RateLimit(settings.adapter_rate_limit)

    async def signed_within_limit(request: Request) -> str:
        if not settings.adapter_secrets and settings.environment != "local":
            # Unsigned contacts are for a machine of one's own, never a deployment.
            raise HTTPException(503, "no adapter secrets configured (HELPDESK_ADAPTER_SECRETS)")
        name = await verified(request)
        await per_adapter.check(f"adapter:{name}")
        return name

    signed = access.rule(Rule.ADAPTER, signed_within_limit)
    Staff, Manager, Operator = (
        Depends(access.staff),
        Depends(access.manager),
        Depends(access.operator),
    )

    @router.post(
        "/contacts",
        status_code=status.HTTP_202_ACCEPTED,
        tags=["contacts"],
        summary="Submit a contact from a channel adapter (HMAC-signed).",
        description="A contact refused (an unknown channel, no sender, nothing said) answers "
        "422 with one issue whose `type` says why (`unknown_channel`, `empty_contact`, ...).",
        responses=NOT_JSON,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ContactSubmission.model_json_schema()}},
            }
        },
    )
    async def submit_contact(request: Request, adapter: str = Depends(signed)) -> Accepted:
        try:
            data = await request.json()
        except ValueError as exc:
            raise HTTPException(400, f"the body is not JSON: {exc}") from exc
        contact = normalise_submission(data, rules)
        if isinstance(contact, Rejected):
            raise _refuse(contact)
        await mailbox.publish(contact)
        return Accepted(
            contact_id=contact.contact_id,
            event_id=str(contact.event_id),
            ticket_id=ticket_id_for_contact(contact.contact_id),
        )

    @router.post(
        "/contacts/email",
        status_code=status.HTTP_202_ACCEPTED,
        tags=["contacts"],
        summary="Submit one raw email (message/rfc822), as a mail gateway received it.",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"message/rfc822": {"schema": {"type": "string", "format": "binary"}}},
            }
        },
    )
    async def submit_mail(request: Request, adapter: str = Depends(signed)) -> MailAccepted:
        raw = await request.body()
        limit = int(rules.mail.max_message_mb * 1024 * 1024)
        if len(raw) > limit:
            raise HTTPException(413, f"the message is {len(raw)} bytes; the limit is {limit}")
        result = await mailbox.submit(raw, source=f"http:{adapter}")
        if isinstance(result, Rejected):
            if result.automatic:
                return MailAccepted(contact_id=None, suppressed=result.reason)
            raise _refuse(result)
        return MailAccepted(contact_id=result.contact_id)

    @router.get("/tickets/{ticket_id}", tags=["tickets"], summary="A ticket and its history.")
    async def get_ticket(ticket_id: str, person: Person = Staff) -> dict[str, Any]:
        ticket = await store.ticket(ticket_id)
        if ticket is None or not person.sees_ticket(ticket.get("team"), ticket.get("agent_id")):
            raise HTTPException(404, f"no ticket {ticket_id}")
        ticket.pop("opened_event", None)
        ticket.pop("topic_terms", None)
        ticket["ticket_id"] = ticket.pop("_id")
        return ticket

    @router.get(
        "/customers/{customer_id}",
        tags=["customers"],
        summary="A customer: identities, merges, and the previous tickets (with agents' notes) "
        "the caller may see.",
        description="Shown to people who see at least one of the customer's tickets; tickets "
        "of other teams are counted, not shown.",
    )
    async def get_customer(customer_id: str, person: Person = Staff) -> dict[str, Any]:
        customer = await store.customer(customer_id)
        tickets = await store.tickets_of(customer["_id"]) if customer else []
        visible = [t for t in tickets if person.sees_ticket(t.get("team"), t.get("agent_id"))]
        if customer is None or not visible:
            raise HTTPException(404, f"no customer {customer_id}")
        merges = await store.merges_of(customer["_id"])
        return {
            "customer_id": customer["_id"],
            "identities": customer["identities"],
            "plan": customer.get("plan", "standard"),
            "merges": [
                {k: m[k] for k in ("merged", "identities", "proved_by_contact", "merged_at")}
                for m in merges
            ],
            "tickets": [
                {
                    "ticket_id": t["_id"],
                    "reference": t["reference"],
                    "status": t["status"],
                    "channel": t["channel"],
                    "subject": t["subject"],
                    "opened_at": t["opened_at"],
                    "notes": [h for h in t["history"] if h["event_type"] == "ticket.note_added"],
                }
                for t in visible
            ],
            "other_tickets": len(tickets) - len(visible),
        }

    @router.post(
        "/customers/{customer_id}/erase",
        status_code=status.HTTP_202_ACCEPTED,
        tags=["customers"],
        summary="Erase a customer's personal data in every service (a manager).",
        description="Publishes `customer.erased`: every service removes what it keeps of the "
        "person. Events already on Kafka keep their copies until the topics' retention "
        "deletes them.",
    )
    async def erase_customer(customer_id: str, person: Person = Manager) -> Erased:
        try:
            erasure = await intake.erase(customer_id, person.person_id)
        except UnknownCustomer as exc:
            raise HTTPException(404, str(exc)) from exc
        return Erased(
            customer_id=erasure.event.customer_id,
            event_id=str(erasure.event.event_id),
            records=erasure.records,
            tickets=erasure.tickets,
        )

    @router.get(
        "/reports/calls",
        tags=["reports"],
        summary="Calls: missed, answered, waits (service-wide: an operator).",
    )
    async def call_report(
        days: float = Query(default=7, gt=0, le=366, allow_inf_nan=False),
        person: Person = Operator,
    ) -> dict[str, Any]:
        calls = await store.calls_since(datetime.now(UTC) - timedelta(days=days))
        waits = sorted(c["queue_wait_seconds"] for c in calls)
        by_outcome: dict[str, int] = {}
        for call in calls:
            by_outcome[call["outcome"]] = by_outcome.get(call["outcome"], 0) + 1
        cuts = quantiles(waits, n=10, method="inclusive") if len(waits) > 1 else waits * 9
        return {
            "days": days,
            "calls": len(calls),
            "by_outcome": by_outcome,
            "wait_seconds": {
                "mean": sum(waits) / len(waits) if waits else None,
                "median": cuts[4] if cuts else None,
                "p90": cuts[8] if cuts else None,
                "max": waits[-1] if waits else None,
            },
        }

    return router
