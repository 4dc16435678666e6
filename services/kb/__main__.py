"""`python -m services.kb`: run the knowledge-base service."""

from services.kb.app import build_app
from shared.runtime import run

run(build_app)
