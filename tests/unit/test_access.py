"""The access model: rules stated by every route, people's roles from the directory, token
rotation, rate limits, and a route without a rule refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI

from shared.access import Access, Person, RouteWithoutRule, Rule, enforce, person_of
from shared.agent_tokens import BadToken, TokenKeys
from shared.directory import load_directory

CONFIG = Path(__file__).resolve().parents[2] / "config"
OLD = "an-old-secret-that-is-long-enough-for-hs256!"
NEW = "a-new-secret-that-is-long-enough-for-hs256!!"
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def app_with(access: Access) -> FastAPI:
    app = FastAPI()

    @app.get("/health", dependencies=[Depends(access.public)])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    staff, heads, operator = Depends(access.staff), Depends(access.heads), Depends(access.operator)

    @app.get("/teams/{team}/queue")
    async def queue(team: str, person: Person = staff) -> dict[str, str]:
        return {"team": team, "by": person.person_id}

    @app.get("/webhooks")
    async def webhooks(person: Person = heads) -> list[str]:
        return sorted(person.heads)

    @app.get("/deliveries")
    async def deliveries(person: Person = operator) -> list[str]:
        return []

    enforce(app)
    return app


def token(keys: TokenKeys, who: str, at: datetime = NOW) -> dict[str, str]:
    return {"Authorization": f"Bearer {keys.issue(who, ttl=timedelta(hours=1), now=at)}"}


@pytest.fixture
def access() -> Access:
    return Access(TokenKeys(NEW), load_directory(CONFIG), public_limit="3/minute")


async def call(app: FastAPI, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        return await client.get(path, headers=headers or {})


def test_people_are_who_the_directory_says() -> None:
    directory = load_directory(CONFIG)
    agent = person_of(directory, "ag-nika")
    lead = person_of(directory, "lead-technical")
    manager = person_of(directory, "mgr-accounts")
    operator = person_of(directory, "ops-rin")
    assert agent is not None and agent.teams == {"technical"} and not agent.is_head
    assert lead is not None and lead.teams == {"technical"} and lead.is_head
    assert manager is not None and manager.manages == {"accounts"}
    assert operator is not None and operator.operator and operator.teams == frozenset()
    assert person_of(directory, "nobody") is None
    assert agent.sees_ticket("technical") and not agent.sees_ticket("accounts")
    assert agent.sees_ticket("accounts", assignee="ag-nika")


async def test_every_rule_answers_as_documented(access: Access) -> None:
    app = app_with(access)
    keys = TokenKeys(NEW)
    access.clock.now = lambda: NOW  # type: ignore[method-assign]
    assert (await call(app, "/teams/technical/queue")).status_code == 401
    ok = await call(app, "/teams/technical/queue", token(keys, "ag-nika"))
    assert ok.status_code == 200 and ok.json() == {"team": "technical", "by": "ag-nika"}
    assert (await call(app, "/webhooks", token(keys, "ag-nika"))).status_code == 403
    assert (await call(app, "/webhooks", token(keys, "lead-technical"))).json() == ["technical"]
    assert (await call(app, "/deliveries", token(keys, "mgr-accounts"))).status_code == 403
    assert (await call(app, "/deliveries", token(keys, "ops-rin"))).status_code == 200
    assert (await call(app, "/deliveries", token(keys, "stranger"))).status_code == 401
    spec = app.openapi()
    rules = {path: next(iter(ops.values()))["x-access"] for path, ops in spec["paths"].items()}
    assert rules == {
        "/health": "public",
        "/teams/{team}/queue": "staff",
        "/webhooks": "heads",
        "/deliveries": "operator",
    }
    answers = spec["paths"]["/teams/{team}/queue"]["get"]["responses"]
    assert {"200", "401", "403", "404", "503"} <= set(answers)


async def test_public_routes_are_rate_limited_with_retry_after(access: Access) -> None:
    app = app_with(access)
    codes = [(await call(app, "/health")).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    refused = await call(app, "/health")
    assert int(refused.headers["Retry-After"]) >= 1


def test_a_route_without_a_rule_stops_the_app_from_being_built(access: Access) -> None:
    app = FastAPI()

    @app.get("/tickets/{ticket_id}")
    async def ticket(ticket_id: str) -> dict[str, str]:
        return {}

    with pytest.raises(RouteWithoutRule, match=r"GET /tickets/\{ticket_id\}"):
        enforce(app)


async def test_routes_of_included_routers_state_their_rules_too(access: Access) -> None:
    app = FastAPI()
    router = APIRouter()
    staff = Depends(access.staff)

    @router.get("/queues/{team}")
    async def queue(team: str, person: Person = staff) -> dict[str, str]:
        return {"team": team}

    @router.get("/open")
    async def open_route() -> dict[str, str]:
        return {}

    app.include_router(router)
    with pytest.raises(RouteWithoutRule, match="GET /open") as refused:
        enforce(app)
    assert "queues" not in str(refused.value)
    router.routes.pop()
    enforce(app)
    spec = app.openapi()
    assert spec["paths"]["/queues/{team}"]["get"]["x-access"] == "staff"
    assert (await call(app, "/queues/technical")).status_code == 401


def test_a_rotated_secret_accepts_old_tokens_until_the_window_closes() -> None:
    old = TokenKeys(OLD)
    issued = old.issue("ag-nika", ttl=timedelta(days=2), now=NOW)
    rotated = TokenKeys(NEW, previous=OLD, previous_until=NOW + timedelta(days=1))
    assert rotated.verify(issued, NOW + timedelta(hours=1)) == "ag-nika"
    fresh = rotated.issue("ag-nika", ttl=timedelta(hours=1), now=NOW)
    assert TokenKeys(NEW).verify(fresh, NOW) == "ag-nika"
    with pytest.raises(BadToken, match="retired"):
        rotated.verify(issued, NOW + timedelta(days=1, seconds=1))
    with pytest.raises(BadToken, match="bad signature"):
        TokenKeys(NEW).verify(issued, NOW)
    with pytest.raises(BadToken, match="expired"):
        rotated.verify(fresh, NOW + timedelta(hours=2))


def test_rules_are_the_documented_ones() -> None:
    assert {r.value for r in Rule} == {
        "public",
        "staff",
        "heads",
        "operator",
        "reports",
        "manager",
        "adapter",
        "link",
    }
