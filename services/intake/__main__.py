"""`python -m services.intake`: run the intake service."""

from services.intake.app import build_app
from shared.runtime import run

run(build_app)
