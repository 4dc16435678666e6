"""Settings of the routing service (`HELPDESK_` prefix)."""

from shared.settings import ServiceSettings


class RouterSettings(ServiceSettings):
    service_name: str = "router"
    http_port: int = 8002
