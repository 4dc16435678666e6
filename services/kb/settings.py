"""Settings of the knowledge-base service (`HELPDESK_` prefix)."""

from pydantic import Field

from shared.settings import ServiceSettings


class KbSettings(ServiceSettings):
    service_name: str = "kb"
    http_port: int = 8005
    suggestions_limit: int = Field(default=3, ge=1, description="Articles suggested per ticket.")
