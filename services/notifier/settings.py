"""Settings of the notifier service (`HELPDESK_` prefix), e.g. `HELPDESK_SMTP_HOST`."""

from __future__ import annotations

import secrets

from pydantic import Field, SecretStr

from shared.settings import ServiceSettings


class NotifierSettings(ServiceSettings):
    service_name: str = "notifier"
    http_port: int = 8004
    smtp_host: str = Field(default="127.0.0.1", description="SMTP relay that sends the mail.")
    smtp_port: int = Field(default=25, description="Port of the SMTP relay.")
    smtp_from: str = Field(
        default="helpdesk@helpdesk.example", description="Sender address of every email."
    )
    smtp_timeout: float = Field(default=10, gt=0, description="Seconds per SMTP conversation.")
    smtp_attempts: int = Field(default=3, ge=1, description="Tries per email before it fails.")
    smtp_backoff_seconds: float = Field(
        default=0.5, ge=0, description="Wait before the second try; doubled for each further try."
    )
    push_secret: SecretStr = Field(
        default=SecretStr("change-me"),
        description=(
            "Key that signs WebSocket tokens (HMAC-SHA256 of the person id). The default is "
            "for local runs only: set `HELPDESK_PUSH_SECRET` in every deployment, the same "
            "value on every replica and in whatever issues tokens to agents' consoles."
        ),
    )
    replica_id: str = Field(
        default_factory=lambda: secrets.token_hex(6),
        description=(
            "Names this replica's own push consumer group; random per process, so a restarted "
            "replica starts at the latest events instead of replaying old pushes."
        ),
    )

    @property
    def push_consumer_group(self) -> str:
        return f"helpdesk-notifier-push-{self.replica_id}"
