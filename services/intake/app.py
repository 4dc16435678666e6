"""Composition root of the intake service."""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient

from services.intake import http
from services.intake.handlers import IntakeDeps, register
from services.intake.settings import IntakeSettings
from services.intake.store import IntakeStore, MongoIntakeStore
from shared.broker import make_broker
from shared.idempotency import ProcessedEvents
from shared.mongo import Document, make_mongo_client
from shared.runtime import Service, new_http_app


def build_app(
    settings: IntakeSettings | None = None,
    *,
    broker: KafkaBroker | None = None,
    mongo: AsyncMongoClient[Document] | None = None,
    store: IntakeStore | None = None,
) -> Service:
    settings = settings or IntakeSettings()
    broker = broker or make_broker(settings)
    mongo = mongo or make_mongo_client(settings.mongo)
    db = mongo[settings.database_name]
    intake_store: IntakeStore = store or MongoIntakeStore(db)
    register(broker, settings, IntakeDeps(store=intake_store, processed=ProcessedEvents(db)))
    service = Service(
        settings=settings,
        broker=broker,
        mongo=mongo,
        http=new_http_app(
            "Help desk: intake",
            "Contacts from channel adapters become tickets; agents act on tickets.",
        ),
    )
    service.http.include_router(http.routes(broker, settings, intake_store))

    service.require_indexes(*MongoIntakeStore.indexes())
    return service
