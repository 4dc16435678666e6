"""The knowledge base's access settings without a broker or a database: it refuses to start
outside the local stack without a real secret, answers 503 on people's routes and links on the
local stack without one, and keeps self-help links working across a rotation of the secret."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from services.kb.app import build_app
from services.kb.service import SELF_HELP_ISSUER
from services.kb.settings import KbSettings
from services.kb.store_memory import MemoryKbStore
from shared.access import InsecureSettings
from shared.agent_tokens import TokenKeys
from shared.clock import FakeClock
from shared.language import LanguageDetector
from shared.runtime import Service

ROOT = Path(__file__).resolve().parents[2]
OLD = "kb-unit-old-key-rotated-away-3f9a1c7eWx"
NEW = "kb-unit-new-key-after-rotation-8d2b6e40Qz"


def settings(**values: Any) -> KbSettings:
    return KbSettings(config_dir=ROOT / "config", public_url="https://help.example/kb", **values)


class English:
    """No language model to load: these tests search nothing."""

    def detect(self, text: str) -> str | None:
        return "en"


def app(clock: FakeClock | None = None, **values: Any) -> Service:
    detector = cast(LanguageDetector, English())
    return build_app(settings(**values), store=MemoryKbStore(), clock=clock, detector=detector)


async def get(service: Service, path: str, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.ASGITransport(app=service.http)
    async with httpx.AsyncClient(transport=transport, base_url="http://kb") as client:
        return await client.get(path, headers=headers)


@pytest.mark.parametrize("secret", [None, "change-me-to-a-long-secret-of-32-bytes!"])
def test_outside_the_local_stack_it_refuses_to_start_without_a_real_secret(
    secret: str | None,
) -> None:
    with pytest.raises(InsecureSettings, match="HELPDESK_AGENT_TOKEN_SECRET"):
        app(environment="production", agent_token_secret=secret)
    assert app(environment="production", agent_token_secret=NEW).access is not None


async def test_on_the_local_stack_without_a_secret_people_and_links_get_503() -> None:
    service = app(environment="local")
    for path in ("/editor/articles", "/canned", "/reports/queries", "/metrics"):
        assert (await get(service, path, "any-token")).status_code == 503, path
    assert (await get(service, "/self-help/any-token")).status_code == 503
    # Without a token at all, the answer is still that one is needed.
    assert (await get(service, "/editor/articles")).status_code == 401


async def test_a_self_help_link_signed_before_a_rotation_works_until_the_window_closes() -> None:
    clock = FakeClock()
    link = TokenKeys(OLD, issuer=SELF_HELP_ISSUER).issue(
        "t-1", ttl=timedelta(days=14), now=clock.now()
    )
    person = TokenKeys(OLD).issue("mgr-technical", ttl=timedelta(days=14), now=clock.now())
    service = app(
        clock,
        environment="production",
        agent_token_secret=NEW,
        agent_token_previous_secret=OLD,
        agent_token_previous_until=clock.now() + timedelta(days=2),
    )
    page = await get(service, f"/self-help/{link}")
    assert page.status_code == 200 and page.json()["ticket_id"] == "t-1"
    assert (await get(service, "/editor/articles", person)).status_code == 200
    clock.advance(timedelta(days=2, seconds=1))
    refused = await get(service, f"/self-help/{link}")
    assert refused.status_code == 401 and "retired" in refused.text
    assert (await get(service, "/editor/articles", person)).status_code == 401
    fresh = TokenKeys(NEW, issuer=SELF_HELP_ISSUER).issue(
        "t-1", ttl=timedelta(days=14), now=clock.now()
    )
    assert (await get(service, f"/self-help/{fresh}")).status_code == 200
