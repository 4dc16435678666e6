"""Settings of the insights service (`HELPDESK_` prefix)."""

from shared.settings import ServiceSettings


class InsightsSettings(ServiceSettings):
    service_name: str = "insights"
    http_port: int = 8006
