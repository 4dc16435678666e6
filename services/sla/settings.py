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
    deadline_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Longest one deadline may take to emit its breach before it is retried.",
    )
    load_retry_first_seconds: float = Field(
        default=0.2,
        gt=0,
        description="First wait before loading an assigned partition's clocks again.",
    )
    load_retry_max_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Longest wait between attempts to load an assigned partition's clocks.",
    )
