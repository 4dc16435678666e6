"""Settings of the knowledge-base service (`HELPDESK_` prefix), e.g. `HELPDESK_PUBLIC_URL`.

People's tokens and customers' self-help links are signed with `agent_token_secret` (and
rotated with `agent_token_previous_secret`) of `ServiceSettings`, the same on every service."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings


class KbSettings(ServiceSettings):
    service_name: str = "kb"
    http_port: int = 8005
    public_url: str | None = Field(
        default=None,
        description="Where customers reach this service (e.g. https://helpdesk.example/kb); "
        "self-help links start with it. None: no self-help is offered.",
    )
    self_help_days: int = Field(default=14, ge=1, description="How long a self-help link works.")
    reconcile_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How often a replica also compares its index with MongoDB, to take any "
        "change whose event it missed (e.g. while it was joining).",
    )
    search_log_days: int = Field(
        default=180, ge=1, description="How long each search is kept for the reports."
    )
