"""Settings of the insights service (`HELPDESK_` prefix)."""

from typing import Any

from pydantic import Field, field_validator

from shared.settings import KafkaSettings, ServiceSettings

#: Larger batches than the contact path's: nobody waits on a report's second, and a batch folds
#: each ticket's events into one write (2.4 times the events per second at 1,000 as at 100).
INSIGHTS_BATCH = 1000


class InsightsSettings(ServiceSettings):
    service_name: str = "insights"
    http_port: int = 8006
    kafka: KafkaSettings = KafkaSettings(max_batch=INSIGHTS_BATCH)
    public_url: str | None = Field(
        default=None,
        description="Where customers reach this service: survey links are "
        "`<url>/survey/<token>`. Without it (or without a token secret) no survey is offered.",
    )
    follow_up_poll_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How often a replica also looks for timers other replicas armed.",
    )

    @field_validator("kafka", mode="before")
    @classmethod
    def _larger_batches(cls, value: Any) -> Any:
        # Kafka settings from the environment arrive as a mapping, which replaces the default
        # whole: keep this service's batch size unless `HELPDESK_KAFKA__MAX_BATCH` says otherwise.
        if isinstance(value, dict) and "max_batch" not in value:
            return {**value, "max_batch": INSIGHTS_BATCH}
        return value
