"""Running a service: one process serving HTTP (health, API) while its Kafka consumers work."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import uvicorn
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import PlainTextResponse
from faststream.kafka import KafkaBroker
from prometheus_client import multiprocess
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from shared import errors, telemetry
from shared.access import Access, Person, access_for, enforce
from shared.broker import ensure_topics
from shared.consuming import ConsumerKit
from shared.directory import load_directory
from shared.idempotency import processed_indexes
from shared.limits import BodyLimit
from shared.logging import configure_logging, get_logger
from shared.metrics import exposition, multiprocess_mode
from shared.mongo import Document, Indexes, ensure_indexes
from shared.settings import ServiceSettings

log = get_logger(__name__)

Hook = Callable[[], Awaitable[Any]]
#: The share of `stop_timeout_seconds` for stopping the consumers and loops; HTTP connections
#: (the console's streams) are closed in the rest, first.
CONSUMERS_SHARE = 0.75


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

    def __post_init__(self) -> None:
        # A server span per request when tracing is on; nothing at all when it is off.
        telemetry.instrument_http(self.http, self.settings)

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

        @self.http.get(
            "/health/ready",
            tags=["health"],
            summary="Every consumer has joined its group and the database answers.",
            description="503 with what is missing while a consumer group is still to be "
            "joined (at start) or the database does not answer.",
            responses={503: {"description": "Not ready: what is missing."}},
        )
        async def ready(_: None = public) -> dict[str, str]:
            waiting = self.kit.unjoined() if self.kit is not None else []
            if waiting:
                raise HTTPException(503, f"consumer groups not joined yet: {', '.join(waiting)}")
            try:
                await self.mongo.admin.command("ping")
            except PyMongoError as exc:
                raise HTTPException(503, f"database unreachable: {exc}") from exc
            return {"status": "ready", "service": self.settings.service_name}

        @self.http.get(
            "/metrics",
            tags=["health"],
            summary="Prometheus metrics of this process, or of all the worker processes that "
            "share `PROMETHEUS_MULTIPROC_DIR` (an operator's token).",
            response_class=PlainTextResponse,
        )
        async def metrics(_: Person = operator) -> PlainTextResponse:
            body, content_type = exposition()
            return PlainTextResponse(body, media_type=content_type)

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
        """Stop within `stop_timeout_seconds`: the service's own loops, then the broker (the
        batches in hand finished and committed, the groups left), then the database. What a
        stop past its time (a broker out of reach) leaves uncommitted is read again."""
        try:
            async with asyncio.timeout(self.settings.stop_timeout_seconds * CONSUMERS_SHARE):
                for hook in reversed(self.on_stop):
                    await hook()
                await self.broker.stop()
        except TimeoutError:
            log.warning(
                "service.stop_timed_out",
                seconds=self.settings.stop_timeout_seconds * CONSUMERS_SHARE,
            )
        await self.mongo.close()
        await telemetry.flush(self.settings)
        if multiprocess_mode():
            # This process's gauges leave the sum the other processes' `/metrics` serve.
            multiprocess.mark_process_dead(os.getpid())
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
        # Open streams (the console's) are closed after this; the consumers' stop follows.
        timeout_graceful_shutdown=max(
            1, round(settings.stop_timeout_seconds * (1 - CONSUMERS_SHARE))
        ),
    )
    asyncio.run(uvicorn.Server(config).serve())
