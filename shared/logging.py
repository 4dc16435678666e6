"""structlog set-up: key-value events, JSON off a terminal, per-message ids bound from context."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog

from shared.settings import LoggingSettings


def configure_logging(settings: LoggingSettings, *, service: str) -> None:
    """Route structlog and the standard library (FastStream, uvicorn) through one renderer."""
    use_json = settings.format == "json" or (settings.format == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    shared_processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared_processors,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelName(settings.level.upper())
        ),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    # The standard library's records (uvicorn's, FastStream's) carry their exception as a
    # tuple: JSON would print the traceback object's repr, so it is written out first. The
    # console renderer writes it out itself, prettier.
    written_out = [structlog.processors.format_exc_info] if use_json else []
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared_processors,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *written_out,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level.upper())
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    logging.getLogger("pymongo").setLevel(logging.WARNING)
    structlog.contextvars.bind_contextvars(service=service)


@contextmanager
def bound(**ids: Any) -> Iterator[None]:
    """Bind ids (ticket_id, event_id, correlation_id) to every log line inside the block."""
    present = {k: v for k, v in ids.items() if v is not None}
    tokens = structlog.contextvars.bind_contextvars(**present)
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
