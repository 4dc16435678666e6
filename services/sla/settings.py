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
        default=120.0,
        gt=0,
        description="Longest one firing may take (read-ahead, publishing and saving) before it "
        "is tried again. Generous: cutting a firing off between publishing and saving makes "
        "the retry publish its events again (same ids, dropped by consumers).",
    )
    read_ahead_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How long before a ticket's next warning or deadline its record is read, "
        "so that the event goes out at its second even when the database is slow.",
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
