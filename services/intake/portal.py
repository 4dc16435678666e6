"""The customer portal's use cases: a one-time link mailed to an address the desk knows opens a
session; the session lists the customer's tickets (merged records' too), shows a conversation
and sends a reply in through the same path as every adapter's contact.

The page itself is plain HTML, CSS and JavaScript under `portal/`, served by `portal_http`.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from services.intake.config import IntakeRules
from services.intake.domain import with_reference
from services.intake.domain.portal import (
    conversation,
    language_of,
    shown_identities,
    summary,
    survey_of,
)
from services.intake.domain.submissions import normalise_submission
from services.intake.portal_mail import sign_in_mail
from services.intake.portal_store import PortalStore
from services.intake.portal_survey import AnswerSurvey, SurveyClosed, SurveyForm, answer_survey
from services.intake.rejections import Rejected
from services.intake.settings import IntakeSettings
from services.intake.store import IntakeStore
from shared.clock import Clock, SystemClock
from shared.directory import Directory
from shared.events import ContactReceived
from shared.logging import get_logger
from shared.mongo import Document

log = get_logger(__name__)

#: The page's files: index.html, portal.js, portal.css.
ASSETS = Path(__file__).with_suffix("")

Send = Callable[[EmailMessage], Awaitable[None]]
Publish = Callable[[ContactReceived], Awaitable[None]]


@dataclass(frozen=True)
class Session:
    """A signed-in customer: the record they signed in as, the address, the CSRF value."""

    customer_id: str
    email: str
    csrf: str


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    data: bytes


class ReplyRefused(ValueError):
    """A reply the contact path refused (empty, too long): the rejection says why."""

    def __init__(self, rejected: Rejected) -> None:
        super().__init__(rejected.detail)
        self.rejected = rejected


def agent_names(directory: Directory) -> dict[str, str]:
    """Every person who may reply, by id, with the name the customer sees."""
    names: dict[str, str] = {}
    for team in directory.teams:
        for person in (team.manager, team.lead, *team.agents):
            if person is not None:
                names[person.person_id] = person.name
    return names


@dataclass
class Portal:
    store: IntakeStore
    grants: PortalStore
    settings: IntakeSettings
    rules: IntakeRules
    directory: Directory
    publish: Publish
    send: Send
    clock: Clock = field(default_factory=SystemClock)
    answer: AnswerSurvey = field(default_factory=SurveyForm)

    # -- signing in -------------------------------------------------------------------------------

    async def customer_by_email(self, email: str) -> Document | None:
        return await self.store.customer_with(f"email:{email.strip().lower()}")

    async def link_for(self, customer: Document, email: str, base_url: str) -> str:
        """A new one-time sign-in link for the customer (kept only as its digest)."""
        token = secrets.token_urlsafe(32)
        expires = self.clock.now() + timedelta(minutes=self.settings.portal_link_minutes)
        await self.grants.grant(
            "link",
            token,
            {"customer_id": customer["_id"], "email": email.lower(), "expires_at": expires},
        )
        return f"{base_url}/portal/enter?link={token}"

    async def sign_in(self, email: str, base_url: str) -> None:
        """Mail a sign-in link if the address is a known customer's; say nothing either way."""
        customer = await self.customer_by_email(email)
        if customer is None:
            log.info("portal.sign_in_unknown")
            return
        link = await self.link_for(customer, email, base_url)
        language = language_of(await self._tickets(customer["_id"]))
        mail = sign_in_mail(
            email.strip().lower(),
            link,
            self.settings.portal_link_minutes,
            language,
            self.settings.smtp_from,
        )
        try:
            await self.send(mail)
        except (OSError, TimeoutError) as exc:
            # The answer must not tell a known address from an unknown one: log, don't fail.
            log.warning("portal.sign_in_not_mailed", error=str(exc))
            return
        log.info("portal.sign_in_mailed", customer_id=customer["_id"])

    async def enter(self, token: str) -> tuple[str, Session] | None:
        """Spend a sign-in link on a new session: its id (for the cookie) and the session."""
        now = self.clock.now()
        link = await self.grants.take_link(token, now)
        if link is None:
            return None
        session_id = secrets.token_urlsafe(32)
        session = Session(link["customer_id"], link["email"], secrets.token_urlsafe(32))
        expires = now + timedelta(hours=self.settings.portal_session_hours)
        await self.grants.grant(
            "session",
            session_id,
            {
                "customer_id": session.customer_id,
                "email": session.email,
                "csrf": session.csrf,
                "expires_at": expires,
            },
        )
        log.info("portal.session_opened", customer_id=session.customer_id)
        return session_id, session

    async def session(self, session_id: str) -> Session | None:
        found = await self.grants.session(session_id, self.clock.now())
        if found is None:
            return None
        return Session(found["customer_id"], found["email"], found["csrf"])

    async def sign_out(self, session_id: str) -> None:
        await self.grants.end_session(session_id)

    # -- what the customer sees -------------------------------------------------------------------

    async def _customer(self, session: Session) -> Document | None:
        """The surviving record of the session's customer (merges are followed)."""
        customer = await self.store.customer(session.customer_id)
        return None if customer is None or customer.get("erased_at") else customer

    async def _tickets(self, customer_id: str) -> list[Document]:
        """The customer's tickets, those of every record merged into theirs too."""
        found: dict[str, Document] = {}
        for record in await self.store.records_of(customer_id):
            for ticket in await self.store.tickets_of(record["_id"]):
                found[ticket["_id"]] = ticket
        return sorted(found.values(), key=lambda t: t["opened_at"], reverse=True)

    async def me(self, session: Session) -> dict[str, Any] | None:
        customer = await self._customer(session)
        if customer is None:
            return None
        tickets = await self._tickets(customer["_id"])
        return {
            "customer_id": customer["_id"],
            "name": await self._name(tickets),
            "language": language_of(tickets),
            "identities": shown_identities(customer),
            "csrf_token": session.csrf,
        }

    async def _name(self, tickets: list[Document]) -> str | None:
        """The name the customer gave on their newest ticket that has one."""
        for listed in tickets:
            ticket = await self.store.ticket(listed["_id"])
            name = ((ticket or {}).get("opened_event") or {}).get("customer_name")
            if name:
                return str(name)
        return None

    async def tickets(self, session: Session) -> list[dict[str, Any]] | None:
        customer = await self._customer(session)
        if customer is None:
            return None
        return [summary(t) for t in await self._tickets(customer["_id"])]

    async def _own_ticket(self, session: Session, ticket_id: str) -> Document | None:
        customer = await self._customer(session)
        if customer is None:
            return None
        records = {r["_id"] for r in await self.store.records_of(customer["_id"])}
        ticket = await self.store.ticket(ticket_id)
        return ticket if ticket is not None and ticket.get("customer_id") in records else None

    async def ticket(self, session: Session, ticket_id: str) -> dict[str, Any] | None:
        ticket = await self._own_ticket(session, ticket_id)
        if ticket is None:
            return None
        names = agent_names(self.directory)
        return {
            **summary(ticket),
            "language": ticket.get("language"),
            "messages": conversation(ticket.get("history", []), names),
            "survey": survey_of(ticket, self.clock.now()),
        }

    # -- writing in -------------------------------------------------------------------------------

    async def survey(
        self, session: Session, ticket_id: str, score: int, comment: str | None
    ) -> bool | None:
        """Answer the ticket's open survey through its own link. None: not the customer's
        ticket; raises SurveyClosed (none open) or SurveyUnavailable (try again)."""
        ticket = await self._own_ticket(session, ticket_id)
        if ticket is None:
            return None
        offered = survey_of(ticket, self.clock.now())
        if offered is None:
            raise SurveyClosed("no survey is open on this ticket")
        await answer_survey(self.answer, offered["link"], score, comment)
        log.info("portal.survey_answered", ticket_id=ticket_id, score=score)
        return True

    async def reply(
        self, session: Session, ticket_id: str, body: str, upload: Upload | None
    ) -> str | None:
        """The customer's reply, submitted as a contact threaded by the ticket's reference
        (a resolved ticket reopens, or a new one follows it, as for any late contact).
        Its contact id; None for a ticket that is not the customer's."""
        ticket = await self._own_ticket(session, ticket_id)
        if ticket is None:
            return None
        files = []
        if upload is not None:
            stored = await self.store.store_attachment(
                upload.filename, upload.content_type, upload.data
            )
            files.append(
                {
                    "filename": upload.filename,
                    "content_type": upload.content_type,
                    "size": len(upload.data),
                    "stored_id": stored,
                }
            )
        subject = with_reference(f"Re: {ticket.get('subject') or ''}", ticket["reference"])
        data = {
            "contact_id": f"portal:{uuid.uuid4()}",
            "received_at": self.clock.now().isoformat(),
            "language": ticket.get("language"),
            "message": {
                "channel": "email",
                "from_address": session.email,
                "subject": subject,
                "body": body,
                "attachments": files,
            },
        }
        contact = normalise_submission(data, self.rules)
        if isinstance(contact, Rejected):
            raise ReplyRefused(contact)
        await self.publish(contact)
        log.info("portal.replied", ticket_id=ticket_id, contact_id=contact.contact_id)
        return contact.contact_id
