"""`python -m services.router`: run the routing service."""

from services.router.app import build_app
from shared.runtime import run

run(build_app)
