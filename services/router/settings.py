"""Settings of the routing service (`HELPDESK_` prefix); its rules live in config/routing.yaml,
categories.yaml and triage.yaml."""

from pathlib import Path

from pydantic import Field

from shared.settings import ServiceSettings


class RouterSettings(ServiceSettings):
    service_name: str = "router"
    http_port: int = 8002
    classifier_model: Path | None = Field(
        default=None,
        description="Saved classifier (`python -m services.router.train --model PATH`); used "
        "when trained on the current examples, else the model is trained at start and saved "
        "there. None: trained at start, kept in memory.",
    )
    queue_sweep_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How often every queue is offered to free agents even without an event "
        "(a shift starting frees capacity without one).",
    )
