"""`python -m services.sla`: run the SLA service."""

from services.sla.app import build_app
from shared.runtime import run

run(build_app)
