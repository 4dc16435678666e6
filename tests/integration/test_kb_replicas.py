"""Two knowledge-base replicas on the local Kafka and MongoDB, each searching its own index:
an article edited through one is found through the other within a second."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
import pytest

from services.kb.app import build_app
from services.kb.settings import KbSettings
from shared.agent_tokens import TokenKeys
from shared.language import LanguageDetector
from shared.runtime import Service
from tests.conftest import eventually

pytestmark = pytest.mark.integration

SECRET = "kb-integration-secret-of-32-bytes-or-more"


def client(service: Service) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=service.http)
    return httpx.AsyncClient(transport=transport, base_url="http://kb")


@pytest.fixture
async def replicas(make_settings: Any) -> AsyncIterator[tuple[Service, Service]]:
    detector = LanguageDetector()
    settings = make_settings(KbSettings, agent_token_secret=SECRET)
    services = [
        build_app(settings.model_copy(update={"replica_id": name}), detector=detector)
        for name in ("a", "b")
    ]
    started: list[Service] = []
    try:
        for service in services:
            await service.start()
            started.append(service)
        yield services[0], services[1]
    finally:
        for service in started:
            await service.stop()


async def found(http: httpx.AsyncClient, q: str) -> list[str]:
    answer = await http.get("/articles/search", params={"q": q, "language": "en"})
    return [r["article_id"] for r in answer.json()["results"]]


async def test_an_edit_through_one_replica_is_found_through_the_other_within_a_second(
    replicas: tuple[Service, Service],
) -> None:
    first, second = replicas
    now = datetime.now(UTC)
    manager = TokenKeys(SECRET).issue("mgr-technical", ttl=timedelta(hours=1), now=now)
    headers = {"Authorization": f"Bearer {manager}"}
    async with client(first) as a, client(second) as b:
        article = {
            "article_id": "modem-reset",
            "translations": {"en": {"title": "Resetting the modem", "body": "Hold the button."}},
        }
        assert (await a.post("/editor/articles", json=article, headers=headers)).status_code == 201
        await a.post("/editor/articles/modem-reset/publish", headers=headers)
        # Until its consumer has joined, the other replica finds it by reconciling at start
        # or later by the change event; either way it must arrive.
        await eventually(lambda: found(b, "modem"), timeout=60.0)

        timings = []
        for version, word in ((2, "pinhole"), (3, "paperclip"), (4, "toothpick")):
            change = {
                "version": version,
                "translations": {"en": {"title": "Resetting the modem", "body": f"Use a {word}."}},
            }
            started = time.perf_counter()
            edited = await a.patch("/editor/articles/modem-reset", json=change, headers=headers)
            assert edited.status_code == 200, edited.text
            assert await found(a, word) == ["modem-reset"]
            await eventually(partial(found, b, word), timeout=5.0, interval=0.01)
            timings.append(time.perf_counter() - started)
            assert await found(b, "hold") == []

    assert max(timings) < 1.0, f"edit to findable on the other replica took {timings} s"
