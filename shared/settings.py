"""Settings fragments every service composes; all read from `HELPDESK_*` environment variables."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class TopicSettings(BaseModel):
    """Kafka topic names; override one with e.g. `HELPDESK_TOPICS__TICKETS=acme.tickets.v1`."""

    contacts: str = "helpdesk.contacts.v1"
    tickets: str = "helpdesk.tickets.v1"
    routing: str = "helpdesk.routing.v1"
    agents: str = "helpdesk.agents.v1"
    sla: str = "helpdesk.sla.v1"
    kb: str = "helpdesk.kb.v1"
    notifications: str = "helpdesk.notifications.v1"
    customers: str = "helpdesk.customers.v1"
    insights: str = "helpdesk.insights.v1"
    deadletter: str = "helpdesk.deadletter.v1"

    def all(self) -> list[str]:
        return list(self.model_dump().values())


class KafkaSettings(BaseModel):
    """How a service reaches Kafka and how its consumers behave."""

    bootstrap_servers: str = "127.0.0.1:9092"
    partitions: int = Field(default=3, description="Partitions for topics the service creates.")
    replication_factor: int = 1
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 1_000
    max_attempts: int = Field(
        default=3, description="Tries of a failing message before it goes to the dead-letter topic."
    )
    max_batch: int = Field(
        default=100,
        ge=1,
        description="Most records a subscriber takes in one batch (one poll, one commit).",
    )
    fetch_max_wait_ms: int = Field(
        default=50,
        ge=1,
        description="Longest a fetch waits at the broker for data. Apache Kafka answers as soon "
        "as data arrives; the local broker may hold a fetch this long, so it bounds latency.",
    )
    batch_timeout_ms: int = Field(
        default=50, ge=0, description="Longest a subscriber waits for records before polling again."
    )
    retry_backoff_max_ms: int = Field(
        default=5_000,
        ge=1,
        description="Longest wait before a batch is tried again while the database or the "
        "broker is unreachable (the wait doubles from 100 ms per failed try).",
    )


class MongoSettings(BaseModel):
    """How a service reaches MongoDB; each service owns one database."""

    url: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    database_prefix: str = "helpdesk_"
    processed_ttl_days: int = 14
    #: Commands slower than this are logged (warning `slow_db_command`) with their shape: the
    #: fields and operators of their filter and sort, never the values. 0 turns the log off.
    slow_command_ms: float = 0.0


class TelemetrySettings(BaseModel):
    """Traces (OpenTelemetry), e.g. `HELPDESK_TELEMETRY__OTLP_ENDPOINT=http://collector:4318`.
    Off unless an endpoint is set: no tracer, no middleware, nothing spent."""

    otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP collector to send spans to (its base URL; spans go to "
        "`/v1/traces` under it). The exporter's other settings are the standard "
        "`OTEL_EXPORTER_OTLP_*` variables (headers, timeout, certificate).",
    )
    sample_ratio: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="Share of the traces started here that are kept; a trace started "
        "upstream keeps its caller's decision.",
    )


class LoggingSettings(BaseModel):
    level: str = "INFO"
    format: Literal["auto", "json", "console"] = "auto"


class ServiceSettings(BaseSettings):
    """Base of every service's settings, e.g. `HELPDESK_KAFKA__BOOTSTRAP_SERVERS`."""

    model_config = SettingsConfigDict(
        env_prefix="HELPDESK_", env_nested_delimiter="__", extra="ignore"
    )

    service_name: str = "helpdesk"
    kafka: KafkaSettings = KafkaSettings()
    mongo: MongoSettings = MongoSettings()
    topics: TopicSettings = TopicSettings()
    logging: LoggingSettings = LoggingSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    config_dir: Path = Field(
        default=Path("config"), description="Folder of the YAML business rules."
    )
    http_host: str = "127.0.0.1"
    http_port: int = 0
    stop_timeout_seconds: float = Field(
        default=20.0,
        gt=0,
        description="How long a stop (SIGTERM) may take: the batches in hand are finished and "
        "committed and the consumer groups left; past it the process exits anyway (a broker "
        "out of reach), and what it did not commit is read again by the group. Keep it under "
        "the platform's grace period (Kubernetes: 30 s).",
    )
    environment: Literal["local", "production"] = Field(
        default="production",
        description="`local` (the local stack: `make run`, the tests) lets a service start "
        "without secrets; anywhere else it refuses an empty or placeholder secret.",
    )
    agent_token_secret: SecretStr | None = Field(
        default=None,
        description="Key (32+ bytes) people's tokens are signed with, the same on every "
        "service. Without it the routes for people answer 503.",
    )
    agent_token_previous_secret: SecretStr | None = Field(
        default=None,
        description="The key before the last rotation: tokens it signed are still accepted "
        "until `agent_token_previous_until`.",
    )
    agent_token_previous_until: AwareDatetime | None = Field(
        default=None,
        description="When tokens signed with the previous key stop being accepted (ISO 8601).",
    )
    public_rate_limit: str = Field(
        default="120/minute",
        description="Requests per client address on public routes (and per adapter on "
        "adapters' routes), e.g. `120/minute`; more get 429 with Retry-After.",
    )
    max_request_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest request body a route takes (413 above)."
    )
    replica_id: str = Field(
        default_factory=lambda: secrets.token_hex(4),
        description="Names this replica's own consumer groups (state every replica holds); "
        "random per process, so a restarted replica reads on from the newest events.",
    )

    @property
    def database_name(self) -> str:
        return f"{self.mongo.database_prefix}{self.service_name}"

    @property
    def consumer_group(self) -> str:
        """The service's shared group: each event goes to one replica."""
        return f"helpdesk-{self.service_name}"

    def group(self, suffix: str | None = None, *, per_replica: bool = False) -> str:
        """A consumer group of this service: the shared one, one per subscriber (`suffix`), or
        this replica's own (`per_replica`), which sees every event."""
        name = self.consumer_group
        if per_replica:
            return f"{name}-{suffix or 'replica'}-{self.replica_id}"
        return f"{name}.{suffix}" if suffix else name
