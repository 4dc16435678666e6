"""Settings of the notifier service (`HELPDESK_` prefix), e.g. `HELPDESK_SMTP_HOST`."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings


class NotifierSettings(ServiceSettings):
    """The notifier's own settings; people's tokens (`HELPDESK_AGENT_TOKEN_SECRET`), rate
    limits and the environment are the shared `ServiceSettings`'."""

    service_name: str = "notifier"
    http_port: int = 8004
    smtp_host: str = Field(default="127.0.0.1", description="SMTP relay that sends the mail.")
    smtp_port: int = Field(default=25, description="Port of the SMTP relay.")
    smtp_from: str = Field(
        default="helpdesk@helpdesk.example", description="Sender address of every email."
    )
    smtp_timeout: float = Field(default=10, gt=0, description="Seconds per SMTP conversation.")
    public_url: str | None = Field(
        default=None,
        description="Where people reach this service (e.g. https://helpdesk.example/notifier); "
        "emails and chat messages link to its agent console. None: no link.",
    )
    email_attempts: int = Field(default=6, ge=1, description="Tries per email before it fails.")
    webhook_attempts: int = Field(default=8, ge=1, description="Tries per webhook call.")
    retry_base_seconds: float = Field(
        default=2.0, gt=0, description="Backoff before the second try; doubles per try, jittered."
    )
    retry_cap_seconds: float = Field(
        default=600.0, gt=0, description="Longest wait between two tries."
    )
    webhook_timeout: float = Field(
        default=10.0, gt=0, description="Seconds a chat tool has to answer one webhook call."
    )
    lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long a replica holds a delivery it is making; a replica that dies "
        "mid-delivery leaves it to be taken again after this time.",
    )
    email_workers: int = Field(default=8, ge=1, description="Emails sent at once per replica.")
    webhook_workers: int = Field(
        default=32, ge=1, description="Webhook calls in flight at once per replica."
    )
    poll_seconds: float = Field(
        default=2.0,
        gt=0,
        description="Longest wait before a replica looks for deliveries and escalations that "
        "other replicas scheduled or left behind; its own wake it at once.",
    )
