"""Settings of the intake service (`HELPDESK_` prefix); its rules live in config/intake.yaml."""

from pydantic import Field, SecretStr

from shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    service_name: str = "intake"
    http_port: int = 8001
    agent_token_days: int = Field(default=30, ge=1, description="How long an agent token lasts.")
    adapter_secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="HMAC secret per channel adapter, as JSON. Empty: on the local stack "
        "contacts go unsigned; anywhere else the adapters' routes answer 503.",
    )
    adapter_rate_limit: str = Field(
        default="600/minute", description="Requests per adapter on the adapters' routes."
    )
    signature_tolerance_seconds: int = Field(
        default=300, ge=1, description="How old a signed request may be (replays are refused)."
    )
    smtp_listen_host: str = Field(default="127.0.0.1", description="Address the SMTP server binds.")
    smtp_listen_port: int | None = Field(
        default=None, description="Port of intake's SMTP server for incoming mail; none: no server."
    )
    smtp_host: str = Field(default="127.0.0.1", description="SMTP relay for replies to customers.")
    smtp_port: int = Field(default=25, description="Port of that relay.")
    smtp_from: str = Field(
        default="support@helpdesk.example", description="Sender of replies to customers."
    )
    smtp_timeout: float = Field(default=10, gt=0, description="Seconds per SMTP conversation.")
    public_url: str | None = Field(
        default=None,
        description="Where customers' browsers reach this service (e.g. "
        "https://helpdesk.example/intake); portal sign-in links start with it. None: taken "
        "from each request (its base URL and `X-Forwarded-Prefix`), on the local stack only.",
    )
    portal_link_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="How long a portal sign-in link works."
    )
    portal_session_hours: float = Field(
        default=8, gt=0, le=24 * 30, description="How long a portal session lasts."
    )
    portal_sign_in_limit: str = Field(
        default="5/hour", description="Sign-in mails per address (more: 429, known or not)."
    )
