"""Settings of the intake service (`HELPDESK_` prefix)."""

from pydantic import Field

from shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    service_name: str = "intake"
    http_port: int = 8001
    default_phone_region: str = Field(
        default="US", description="Region used to read phone numbers given without a country code."
    )
    max_body_chars: int = Field(default=100_000, ge=1, description="Longer contacts are refused.")
