"""Settings of the SLA service (`HELPDESK_` prefix)."""

from pydantic import Field

from shared.settings import ServiceSettings


class SlaSettings(ServiceSettings):
    service_name: str = "sla"
    http_port: int = 8003
    retry_delay_seconds: float = Field(
        default=1.0,
        gt=0,
        description="Wait before firing a deadline again when emitting its breach failed.",
    )
