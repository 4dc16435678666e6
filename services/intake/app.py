"""Composition root of the intake service."""

from __future__ import annotations

from email.message import EmailMessage

import httpx
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient

from services.intake import http
from services.intake.agents_http import agent_routes
from services.intake.config import IntakeRules, load_rules
from services.intake.downloads import download_routes
from services.intake.handlers import register, ticket_publisher
from services.intake.mailbox import Mailbox
from services.intake.portal import Portal
from services.intake.portal_http import portal_routes
from services.intake.portal_store import MongoPortalStore, PortalStore
from services.intake.portal_survey import SurveyForm
from services.intake.rejections import Rejected
from services.intake.replies import send_reply
from services.intake.service import IntakeService
from services.intake.settings import IntakeSettings
from services.intake.smtp import SmtpEnvelope, SmtpIntake
from services.intake.store import IntakeStore, MongoIntakeStore
from shared.access import access_for, checked_secret
from shared.broker import make_broker
from shared.consuming import ConsumerKit
from shared.directory import Directory, load_directory
from shared.events import ContactReceived, CustomerEvent
from shared.idempotency import ProcessedEvents
from shared.language import LanguageDetector
from shared.mongo import Document, make_mongo_client
from shared.runtime import Service, new_http_app


def build_app(
    settings: IntakeSettings | None = None,
    *,
    broker: KafkaBroker | None = None,
    mongo: AsyncMongoClient[Document] | None = None,
    store: IntakeStore | None = None,
    rules: IntakeRules | None = None,
    directory: Directory | None = None,
    detector: LanguageDetector | None = None,
    portal_store: PortalStore | None = None,
    survey_transport: httpx.AsyncBaseTransport | None = None,
) -> Service:
    settings = settings or IntakeSettings()
    rules = rules or load_rules(settings.config_dir)
    directory = directory or load_directory(settings.config_dir)
    access = access_for(settings, directory)
    for name, secret in settings.adapter_secrets.items():
        checked_secret(settings, f"adapter_secrets ({name})", secret)
    detector = detector or LanguageDetector(rules.languages)
    broker = broker or make_broker(settings)
    mongo = mongo or make_mongo_client(settings.mongo)
    db = mongo[settings.database_name]
    intake_store: IntakeStore = store or MongoIntakeStore(db)
    guard = ProcessedEvents(db)
    kit = ConsumerKit(broker, settings, guard)
    tickets = ticket_publisher(kit, settings)
    contacts = kit.publisher(
        settings.topics.contacts,
        ContactReceived,
        title="intake.contacts",
        description="Contacts taken by intake's SMTP server and HTTP API, as adapters publish.",
    )
    mailbox = Mailbox(intake_store, rules, contacts.publish)
    customers = kit.publisher(
        settings.topics.customers,
        CustomerEvent,
        title="intake.customers",
        description="Customers merged (a contact proved two records are one person) or erased.",
    )
    intake = IntakeService(intake_store, rules, detector, settings, tickets, guard, customers)
    register(kit, settings, intake)
    service = Service(
        settings=settings,
        broker=broker,
        mongo=mongo,
        http=new_http_app(
            "Help desk: intake",
            "Contacts from channel adapters become tickets; agents act on tickets.",
        ),
        kit=kit,
    )
    service.http.include_router(http.routes(settings, rules, intake_store, mailbox, access, intake))
    service.http.include_router(agent_routes(tickets, intake_store, directory, access))
    service.http.include_router(download_routes(intake_store, access))

    async def send(message: EmailMessage) -> None:
        await send_reply(message, settings)

    grants = portal_store or MongoPortalStore(db)
    portal = Portal(
        intake_store,
        grants,
        settings,
        rules,
        directory,
        contacts.publish,
        send,
        answer=SurveyForm(transport=survey_transport),
    )
    service.http.include_router(portal_routes(portal, settings, access))
    service.require_indexes(*MongoIntakeStore.indexes(), *MongoPortalStore.indexes())

    mail_limit = int(rules.mail.max_message_mb * 1024 * 1024)
    if settings.smtp_listen_port is not None:

        async def submit(raw: bytes, envelope: SmtpEnvelope) -> Rejected | None:
            outcome = await mailbox.submit(raw, source=f"smtp:{envelope.peer}")
            return outcome if isinstance(outcome, Rejected) else None

        smtp = SmtpIntake(
            submit,
            support_addresses=rules.support_addresses,
            host=settings.smtp_listen_host,
            port=settings.smtp_listen_port,
            max_message_bytes=mail_limit,
            max_recipients=rules.mail.max_recipients,
        )
        service.after_start.append(smtp.start)
        service.on_stop.append(smtp.stop)
    # Raw mail comes whole, up to the mail limit; everything else within the default.
    # A portal reply carries one file up to the attachment limit, and its text and form framing.
    portal_reply = int(rules.mail.max_attachment_mb * 1024 * 1024) + 256 * 1024
    service.seal(
        access,
        larger_bodies={
            "/contacts/email": mail_limit,
            "/portal/api/tickets/{ticket_id}/reply": portal_reply,
        },
    )
    return service
