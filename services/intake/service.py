"""Intake's use cases: batches of contacts become ticket events (once), routing decisions are
projected onto ticket records, agents' replies and self-help offers are mailed to customers, a
ticket the customer solved with an article is resolved, and agents act on tickets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from services.intake.config import IntakeRules
from services.intake.domain import (
    Identity,
    InvalidTransition,
    body_reference,
    contact_text,
    header_keys,
    identities_of,
    message_key,
    status_after,
    subject_reference,
)
from services.intake.domain.deciding import apply_decision, decide, decision_document
from services.intake.replies import build_reply, reply_message_id, send_reply
from services.intake.self_help import build_self_help, self_help_message_id
from services.intake.settings import IntakeSettings
from services.intake.store import IntakeStore
from services.intake.surveys import build_survey, survey_message_id
from shared.broker import PermanentError
from shared.consuming import Batch, Delivery
from shared.directory import CHANNELS
from shared.events import (
    CallRecord,
    ContactReceived,
    CustomerErased,
    CustomerMerged,
    Event,
    KbDeflected,
    KbEvent,
    KbSelfHelpOffered,
    RoutingEvent,
    SurveyOffered,
    TicketAgentReplied,
    TicketAssigned,
    TicketEscalated,
    TicketQueued,
    TicketRouted,
    TicketStatusChanged,
    TicketTransferred,
    ticket_events,
)
from shared.idempotency import Guard
from shared.ids import derived_id
from shared.language import LanguageDetector
from shared.logging import get_logger
from shared.metrics import CONTACTS
from shared.publishing import Publisher

log = get_logger(__name__)

#: The name under which the contacts subscriber marks the events it processed.
CONTACT_GUARD = "contact"
#: How often a deflection re-reads a ticket an agent is changing at the same moment.
DEFLECT_TRIES = 3


def projection(event: RoutingEvent) -> dict[str, Any]:
    """What a routing decision changes on intake's ticket record."""
    if isinstance(event, TicketRouted):
        return {
            "team": event.team,
            "category": event.category,
            "priority": event.priority,
            "tier": event.tier,
        }
    if isinstance(event, TicketAssigned):
        return {"team": event.team, "agent_id": event.agent_id}
    if isinstance(event, TicketTransferred):
        return {
            "team": event.to_team,
            "agent_id": event.to_agent_id,
            "transfer_count": event.transfer_count,
        }
    if isinstance(event, TicketQueued):
        return {"team": event.team, "agent_id": None, "tier": event.tier}
    if isinstance(event, TicketEscalated):
        return {"tier": event.to_tier}
    return {}


def resolvable(status: str) -> bool:
    """Whether a ticket can still be resolved: it is not resolved or closed already."""
    try:
        status_after(status, "resolve")
    except InvalidTransition:
        return False
    return True


class UnknownCustomer(LookupError):
    """No customer has this id (or it was erased)."""


@dataclass
class Erasure:
    """What `erase` announced: the event, and how much it covers."""

    event: CustomerErased
    records: int
    tickets: int


@dataclass
class IntakeService:
    store: IntakeStore
    rules: IntakeRules
    detector: LanguageDetector
    settings: IntakeSettings
    tickets: Publisher
    guard: Guard
    customers: Publisher

    # -- contacts --------------------------------------------------------------------------------

    async def take_contacts(self, batch: Batch[ContactReceived]) -> None:
        """Decide every contact of the batch on one bulk read, write the decisions and their
        effects in a few bulk writes, then publish their events together.

        A contact decided before (redelivered, or submitted twice) replays its stored decision:
        the same events with the same ids, which consumers drop.
        """
        prepared: list[tuple[Delivery[ContactReceived], list[Identity]]] = []
        for delivery in batch:
            with batch.isolate(delivery):
                prepared.append((delivery, identities_of(delivery.event, self.rules.phone)))
        view = await self.store.load(
            [d.event.contact_id for d, _ in prepared],
            [i.key for _, ids in prepared for i in ids],
            [k for d, _ in prepared for k in header_keys(d.event)],
            [r for d, _ in prepared for r in _references(d.event)],
            [
                (ids[0].value, d.event.arrived_at - self.rules.phone.repeat_call_window)
                for d, ids in prepared
                if isinstance(d.event.message, CallRecord)
            ],
        )
        # A stored decision is out once the contact event that made it was marked processed
        # (after its publishes); one a crash cut off before that is published again.
        published = await self.guard.seen_many(
            CONTACT_GUARD, [d["event_id"] for d in view.decisions.values() if "event_id" in d]
        )
        # (channel, outcome) of each contact decided here, counted once the batch is written.
        outcomes: list[tuple[str, str]] = []
        decided: set[str] = set()
        for delivery, identities in prepared:
            contact = delivery.event
            with batch.isolate(delivery):
                stored = view.decisions.get(contact.contact_id)
                events: list[Event] = []
                # A replay of a decision an earlier try made (and counted) is not counted.
                outcome: str | None = "suppressed"  # the same contact submitted again
                if stored is None:
                    subject, body = contact_text(contact)
                    language = self.detector.detect(f"{subject}\n{body}")
                    decision = decide(view, contact, identities, self.rules, language)
                    stored = decision_document(decision, str(contact.event_id))
                    view.decisions[contact.contact_id] = stored
                    view.changes.decisions.append(stored)
                    events = list(decision.events)
                    outcome = "ticket" if decision.outcome == "opened" else "joined"
                    decided.add(contact.contact_id)
                elif stored.get("event_id") not in published:
                    events = [ticket_events.validate_python(raw) for raw in stored["events"]]
                    published.add(stored.get("event_id", ""))
                    if contact.contact_id not in decided:
                        outcome = None
                apply_decision(view, stored, contact, identities)
                for event in events:
                    batch.publish(self.tickets, event)
                log.debug("contact.decided", outcome=stored["outcome"], ticket=stored["ticket_id"])
                if outcome is not None:
                    outcomes.append((contact.message.channel, outcome))
        # Announced before they are written: a crash in between merges again after redelivery
        # and announces the same merge under the same id, which the other services drop.
        await self.customers.publish_all(
            CustomerMerged(
                event_id=derived_id("customer.merged", m.keeper_id, m.merged["_id"]),
                customer_id=m.keeper_id,
                merged_id=m.merged["_id"],
                proved_by_contact=m.contact_id,
            )
            for m in view.changes.merges
        )
        await self.store.write(view.changes)
        for channel, outcome in outcomes:
            CONTACTS.labels(channel, outcome).inc()
        log.info(
            "contacts.decided",
            contacts=len(batch),
            new=len(view.changes.decisions),
            tickets_opened=len(view.changes.new_tickets),
            set_aside=len(batch.failed),
        )

    def contact_dead_lettered(self, record: Any, contact: Event | None) -> None:
        """Count a contact the kit dead-lettered, under its channel (as far as the body of one
        that could not be parsed tells)."""
        if isinstance(contact, ContactReceived):
            channel: str = contact.message.channel
        else:
            channel = _channel_of(record)
        CONTACTS.labels(channel, "dead_lettered").inc()

    # -- routing -----------------------------------------------------------------------------------

    async def project_routing(self, batch: Batch[RoutingEvent]) -> None:
        """Keep each ticket's team, agent, category, priority and tier; one write per ticket.

        Setting the same values again changes nothing, and the events of one ticket arrive in
        order, so a redelivered batch needs no processed-event guard."""
        changes: dict[str, dict[str, Any]] = {}
        for delivery in batch:
            fields = projection(delivery.event)
            if delivery.event.ticket_id and fields:
                changes.setdefault(delivery.event.ticket_id, {}).update(fields)
        await self.store.project(changes)

    # -- mail to customers -------------------------------------------------------------------------

    async def mail_reply(self, reply: TicketAgentReplied) -> None:
        """Mail an agent's reply on an email ticket to the customer."""
        ticket = await self.store.ticket(reply.ticket_id or "")
        if ticket is None or ticket.get("channel") != "email" or not ticket.get("reply_to"):
            return
        # Known before it is sent, so a customer's quick answer already threads.
        sender = self.settings.smtp_from
        await self.store.remember_key(message_key(reply_message_id(reply, sender)), ticket["_id"])
        await send_reply(build_reply(reply, ticket, sender), self.settings)
        log.info("reply.mailed", ticket_id=reply.ticket_id)

    async def on_kb(self, event: KbEvent) -> list[Event]:
        """A self-help offer is mailed; a deflection resolves its ticket. Events to publish."""
        if isinstance(event, KbSelfHelpOffered):
            await self.mail_self_help(event)
        elif isinstance(event, KbDeflected):
            resolved = await self.claim_resolution(event)
            if resolved is not None:
                log.info("ticket.deflected", article_id=event.article_id)
                return [resolved]
            log.info("deflection.ignored", reason="ticket already resolved or closed")
        return []

    async def mail_self_help(self, offer: KbSelfHelpOffered) -> None:
        """Mail an email ticket's customer the offered articles and their page."""
        ticket = await self.store.ticket(offer.ticket_id or "")
        if ticket is None:
            raise PermanentError(f"no ticket {offer.ticket_id} to offer self-help on")
        if ticket.get("channel") != "email" or not ticket.get("reply_to"):
            # The chat widget fetches the self-help page itself; a phone caller has no address.
            log.info("self_help.not_mailed", channel=ticket.get("channel"))
            return
        if not resolvable(ticket["status"]):
            log.info("self_help.not_mailed", status=ticket["status"])
            return
        sender = self.settings.smtp_from
        await self.store.remember_key(
            message_key(self_help_message_id(offer, sender)), ticket["_id"]
        )
        await send_reply(build_self_help(offer, ticket, sender), self.settings)
        log.info("self_help.mailed", articles=[a.article_id for a in offer.articles])

    async def mail_survey(self, offer: SurveyOffered) -> None:
        """Mail an email ticket's customer the satisfaction survey."""
        ticket = await self.store.ticket(offer.ticket_id or "")
        if ticket is None:
            raise PermanentError(f"no ticket {offer.ticket_id} to survey")
        # The customer portal links the same survey on the ticket, whatever its channel.
        survey = {"link": offer.link, "expires_at": offer.expires_at}
        await self.store.project({ticket["_id"]: {"survey": survey}})
        if ticket.get("channel") != "email" or not ticket.get("reply_to"):
            # A chat adapter shows the survey itself; a phone caller has no address.
            log.info("survey.not_mailed", channel=ticket.get("channel"))
            return
        sender = self.settings.smtp_from
        await self.store.remember_key(message_key(survey_message_id(offer, sender)), ticket["_id"])
        await send_reply(build_survey(offer, ticket, sender), self.settings)
        log.info("survey.mailed")

    async def claim_resolution(self, deflected: KbDeflected) -> TicketStatusChanged | None:
        """Resolve the deflected ticket in the store, once: the status and its history entry in
        one conditional write. The event to publish, or None when already resolved or closed."""
        for _ in range(DEFLECT_TRIES):
            ticket = await self.store.ticket(deflected.ticket_id or "")
            if ticket is None:
                raise PermanentError(f"no ticket {deflected.ticket_id} to resolve")
            resolved = deflected.caused(
                TicketStatusChanged,
                "deflected-resolve",
                customer_id=ticket["customer_id"],
                correlation_id=deflected.correlation_id or ticket.get("contact_id"),
                status="resolved",
                previous_status=ticket["status"],
                agent_id=None,
                reason=f"solved by self-help article {deflected.article_id}",
            )
            for past in ticket.get("history", []):
                if past.get("event_id") == str(resolved.event_id):
                    # This deflection resolved it before its publish: publish the same again.
                    return TicketStatusChanged.model_validate(past)
            if not resolvable(ticket["status"]):
                return None
            # Compare and set: an agent changing the ticket meanwhile makes us read it again.
            if await self.store.transition(ticket["_id"], ticket["status"], "resolved", resolved):
                return resolved
        raise RuntimeError(f"ticket {deflected.ticket_id} kept changing while being resolved")

    async def erase(self, customer_id: str, requested_by: str) -> Erasure:
        """Announce that a customer is to be erased (see `Erasing`)."""
        return await Erasing(self.store, self.customers).erase(customer_id, requested_by)


@dataclass
class Erasing:
    """The right to erasure, as intake starts it: one event every service acts on."""

    store: IntakeStore
    customers: Publisher

    async def erase(self, customer_id: str, requested_by: str) -> Erasure:
        """Announce that a customer is to be erased; every service, intake too, acts on it."""
        customer = await self.store.customer(customer_id)
        if customer is None or customer.get("erased_at"):
            raise UnknownCustomer(f"no customer {customer_id}")
        records = await self.store.records_of(customer["_id"])
        ids = [r["_id"] for r in records]
        tickets = [t["_id"] for r in ids for t in await self.store.tickets_of(r)]
        identities = [
            i for r in records for i in (*r.get("identities", []), *r.get("merged_identities", []))
        ]
        names = [n for t in tickets for n in [await _customer_name(self.store, t)] if n]
        event = CustomerErased(
            event_id=derived_id("customer.erased", customer["_id"], len(tickets)),
            customer_id=customer["_id"],
            customer_ids=ids,
            ticket_ids=tickets,
            identities=sorted({*identities, *(f"name:{n}" for n in names)}),
            requested_by=requested_by,
        )
        await self.customers.publish(event)
        log.info("customer.erase_requested", customer_id=customer["_id"], tickets=len(tickets))
        return Erasure(event, len(records), len(tickets))


async def _customer_name(store: IntakeStore, ticket_id: str) -> str | None:
    ticket = await store.ticket(ticket_id)
    opened = (ticket or {}).get("opened_event") or {}
    name = opened.get("customer_name")
    return str(name) if name else None


def _channel_of(record: Any) -> str:
    try:
        channel = json.loads(record.value)["message"]["channel"]
    except (TypeError, ValueError, KeyError):
        return "unknown"
    return channel if channel in CHANNELS else "unknown"


def _references(contact: ContactReceived) -> list[str]:
    return [r for r in (subject_reference(contact), body_reference(contact)) if r]
