"""`python -m services.insights`: run the insights service."""

from services.insights.app import build_app
from shared.runtime import run

run(build_app)
