"""Turning one contact into its decision: recognise the customer, find the thread, decide.

The decision is stored before anything is published, so a redelivered contact (or one
published twice, or one whose processing was killed halfway) replays the same events."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from services.intake.domain import (
    Facts,
    Identity,
    body_reference,
    check,
    close_chat,
    contact_text,
    header_keys,
    identities_of,
    join_ticket,
    open_ticket,
    outcome,
    own_keys,
    repeat_of,
    subject_reference,
    topic_terms,
)
from services.intake.rejections import ContactRejected, Rejected
from services.intake.rules import IntakeRules
from services.intake.store import IntakeStore
from shared.events import CallRecord, ChatMessage, ContactReceived, EmailMessage
from shared.language import LanguageDetector
from shared.mongo import Document


@dataclass
class ContactProcessor:
    store: IntakeStore
    rules: IntakeRules
    detector: LanguageDetector

    async def process(self, contact: ContactReceived) -> Document:
        """The contact's decision, made once; then its effects, written idempotently."""
        decision = await self.store.decision(contact.contact_id)
        identities = identities_of(contact, self.rules.phone)
        if decision is None:
            decision = await self._decide(contact, identities)
        await self.store.apply(decision, self._extra(contact, identities))
        if isinstance(contact.message, CallRecord):
            await self.store.record_call(self._call(contact, identities, decision["ticket_id"]))
        return decision

    async def _decide(self, contact: ContactReceived, identities: list[Identity]) -> Document:
        check(contact, self.rules.mail.max_text_chars)
        customer = await self.store.recognise(identities, contact.contact_id)
        subject, body = contact_text(contact)
        facts = Facts(
            customer_id=customer["_id"],
            plan=customer.get("plan", "standard"),
            language=self.detector.detect(f"{subject}\n{body}") or contact.language,
        )
        now = contact.arrived_at
        found = await self._thread(contact, identities)
        message = contact.message
        if isinstance(message, ChatMessage) and message.kind == "closed":
            if found is None:
                raise ContactRejected(
                    Rejected(
                        "invalid_contact",
                        f"chat {message.conversation_id} closed, but none of its messages arrived",
                    )
                )
            return await self.store.save_decision(
                close_chat(contact, found[0], found[0]["customer_id"])
            )
        if found is not None:
            ticket, matched_by = found
            result = outcome(
                ticket["status"], ticket.get("closed_at"), now, self.rules.threading.reopen_window
            )
            if result != "open_linked":
                joined = replace(facts, customer_id=ticket["customer_id"])
                return await self.store.save_decision(
                    join_ticket(contact, ticket, joined, matched_by, reopen=result == "reopen")
                )
            facts = replace(facts, follows_ticket_id=ticket["_id"])
        recent = await self.store.recent_tickets(
            facts.customer_id, now - self.rules.repeat_contact.window
        )
        similar = repeat_of(
            topic_terms(f"{subject}\n{body}"), recent, self.rules.repeat_contact.similarity
        )
        return await self.store.save_decision(
            open_ticket(contact, replace(facts, repeat_of=similar))
        )

    async def _thread(
        self, contact: ContactReceived, identities: list[Identity]
    ) -> tuple[Document, str] | None:
        """The ticket a contact belongs to, and how that was found."""
        message = contact.message
        by_key = await self.store.ticket_by_key(header_keys(contact))
        if by_key is not None:
            ticket, key = by_key
            return ticket, "conversation" if key.startswith("chat:") else "message-id"
        for reference, how in (
            (subject_reference(contact), "reference"),
            (body_reference(contact), "marker"),
        ):
            referred = await self.store.ticket_by_reference(reference) if reference else None
            if referred is not None:
                return referred, how
        if isinstance(message, CallRecord):
            since = contact.arrived_at - self.rules.phone.repeat_call_window
            calling = await self.store.open_call(identities[0].value, since)
            if calling is not None:
                return calling, "repeat call"
        return None

    @staticmethod
    def _extra(contact: ContactReceived, identities: list[Identity]) -> dict[str, Any]:
        """Fields a new ticket record keeps, and what each further contact updates."""
        subject, body = contact_text(contact)
        message = contact.message
        fields: dict[str, Any] = {"topic_terms": topic_terms(f"{subject}\n{body}")}
        update: dict[str, Any] = {}
        if isinstance(message, EmailMessage):
            fields["reply_to"] = message.from_address.lower()
            if message.message_id:
                update["last_message_id"] = message.message_id
        elif isinstance(message, CallRecord):
            fields["phone"] = identities[0].value
        else:
            fields["conversation_id"] = message.conversation_id
        return {"fields": fields, "update": update, "keys": own_keys(contact)}

    @staticmethod
    def _call(contact: ContactReceived, identities: list[Identity], ticket_id: str) -> Document:
        call = contact.message
        assert isinstance(call, CallRecord)
        return {
            "_id": contact.contact_id,
            "ticket_id": ticket_id,
            "number": identities[0].value,
            "line": call.line,
            "outcome": call.outcome,
            "queue_wait_seconds": call.queue_wait_seconds,
            "duration_seconds": call.duration_seconds,
            "agent_id": call.agent_id,
            "at": contact.arrived_at,
        }
