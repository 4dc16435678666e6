"""`python -m services.notifier`: run the notifier service."""

from services.notifier.app import build_app
from shared.runtime import run

run(build_app)
