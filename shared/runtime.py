"""Running a service: one process serving HTTP (health, API) while its Kafka consumers work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import uvicorn
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import PlainTextResponse
from faststream.kafka import KafkaBroker
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from shared import errors
from shared.access import Access, Person, access_for, enforce
from shared.broker import ensure_topics
from shared.consuming import ConsumerKit
from shared.directory import load_directory
from shared.idempotency import processed_indexes
from shared.limits import BodyLimit
from shared.logging import configure_logging, get_logger
from shared.mongo import Document, Indexes, ensure_indexes
from shared.settings import ServiceSettings

log = get_logger(__name__)

Hook = Callable[[], Awaitable[Any]]


@dataclass
class Service:
    """Everything one running service holds, built by its `build_app` composition root."""

    settings: ServiceSettings
    broker: KafkaBroker
    mongo: AsyncMongoClient[Document]
    http: FastAPI
    on_start: list[Hook] = field(default_factory=list)
    after_start: list[Hook] = field(default_factory=list)
    on_stop: list[Hook] = field(default_factory=list)
    #: The service's subscribers and publishers (the consumer kit), once it has any.
    kit: ConsumerKit | None = None
    #: The access rules its routes state (`seal`).
    access: Access | None = None

    @property
    def db(self) -> AsyncDatabase[Document]:
        return self.mongo[self.settings.database_name]

    def require_indexes(self, *specs: Indexes) -> None:
        """Create these indexes, and the processed-event guard's, first thing at start."""
        ttl = timedelta(days=self.settings.mongo.processed_ttl_days)

        async def create() -> None:
            await ensure_indexes(self.db, [*specs, processed_indexes(ttl)])

        self.on_start.insert(0, create)

    def seal(self, access: Access, *, larger_bodies: dict[str, int] | None = None) -> None:
        """Add the health and metrics routes, check that every route states its access rule (a
        service with a route that states none refuses to be built), and limit request bodies to
        `max_request_bytes` (more on the paths in `larger_bodies`). Every error answer is then
        documented, and an unexpected error answered 500 with the id it is logged with."""
        self.add_health_routes(access)
        enforce(self.http)
        errors.document(self.http)
        self.http.add_middleware(
            BodyLimit, limit=self.settings.max_request_bytes, larger=larger_bodies or {}
        )
        # Last, so the outermost: it answers what escapes every other middleware too.
        self.http.add_middleware(errors.UnexpectedErrors)

    def add_health_routes(self, access: Access) -> None:
        self.access = access
        public, operator = Depends(access.public), Depends(access.operator)

        @self.http.get("/health/live", tags=["health"], summary="The process is up.")
        async def live(_: None = public) -> dict[str, str]:
            return {"status": "ok"}

        @self.http.get("/health/ready", tags=["health"], summary="Broker and database answer.")
        async def ready(_: None = public) -> dict[str, str]:
            try:
                await self.mongo.admin.command("ping")
            except PyMongoError as exc:
                raise HTTPException(503, f"database unreachable: {exc}") from exc
            return {"status": "ready", "service": self.settings.service_name}

        @self.http.get(
            "/metrics",
            tags=["health"],
            summary="Prometheus metrics of this process (an operator's token).",
            response_class=PlainTextResponse,
        )
        async def metrics(_: Person = operator) -> PlainTextResponse:
            return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    async def start(self, *, create_topics: bool = True) -> None:
        if create_topics:
            await ensure_topics(self.settings.kafka, self.settings.topics)
        for hook in self.on_start:
            await hook()
        await self.broker.start()
        for hook in self.after_start:
            await hook()
        log.info("service.started", consumer_group=self.settings.consumer_group)

    async def stop(self) -> None:
        for hook in reversed(self.on_stop):
            await hook()
        await self.broker.stop()
        await self.mongo.close()
        log.info("service.stopped")


def new_http_app(title: str, description: str) -> FastAPI:
    """A service's app, answering every HTTP error in the one shape (`shared.errors`)."""
    app = FastAPI(title=title, description=description, version="0.1.0")
    errors.install(app)
    return app


def attach_lifecycle(service: Service) -> None:
    """Start the service with the HTTP server and stop it with the server; add health checks."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    service.http.router.lifespan_context = lifespan

    if service.access is None:
        # A service built before its routes stated their rules: health routes only.
        service.add_health_routes(
            access_for(service.settings, load_directory(service.settings.config_dir))
        )


def run(build: Callable[[], Service]) -> None:
    """Entry point of `python -m services.<name>`: build, then serve until SIGINT/SIGTERM."""
    service = build()
    settings = service.settings
    configure_logging(settings.logging, service=settings.service_name)
    attach_lifecycle(service)
    config = uvicorn.Config(
        service.http,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    asyncio.run(uvicorn.Server(config).serve())
