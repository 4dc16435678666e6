"""Every route of the notifier states its rule (shared/access.py), and answers by it: 401 with
no token, 403 for the wrong role, 2xx for the right one; the console's page and files are
public and rate-limited per client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from shared.access import enforce
from shared.runtime import Service
from tests.handler.notifier.support import bearer, start_notifier
from tests.handler.route_access_support import first_status

#: The rule of every route, as the service states it.
RULES = {
    "GET /console": "public",
    "GET /console/static/{name}": "public",
    "GET /health/live": "public",
    "GET /health/ready": "public",
    "GET /me": "staff",
    "GET /board": "staff",
    "GET /tickets": "staff",
    "GET /tickets/{ticket_id}": "staff",
    "POST /live-session": "staff",
    "DELETE /live-session": "public",
    "GET /events": "staff",
    "WEBSOCKET /ws": "staff",
    "POST /escalations/{escalation_id}/acknowledge": "staff",
    "GET /webhooks": "heads",
    "POST /webhooks": "heads",
    "DELETE /webhooks/{name}": "heads",
    "GET /deliveries": "operator",
    "GET /metrics": "operator",
}


@asynccontextmanager
async def client_of(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=service.http)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifier") as client:
        yield client


async def test_every_route_states_its_rule_and_documents_its_answers(make_settings: Any) -> None:
    service, _ = await start_notifier(make_settings)
    assert {name: rule.value for name, rule in enforce(service.http).items()} == RULES
    spec = service.http.openapi()
    documented = {
        f"{method.upper()} {path}": operation["x-access"]
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    }
    # The console's page and files are not API: out of the document, not out of the rules.
    assert documented == {
        k: v for k, v in RULES.items() if not k.startswith(("WEBSOCKET", "GET /console"))
    }
    acknowledge = spec["paths"]["/escalations/{escalation_id}/acknowledge"]["post"]
    assert {"200", "401", "403", "404", "503"} <= set(acknowledge["responses"])
    assert {"201", "401", "403", "409", "422"} <= set(
        spec["paths"]["/webhooks"]["post"]["responses"]
    )
    assert {"204", "401", "403", "404"} <= set(
        spec["paths"]["/webhooks/{name}"]["delete"]["responses"]
    )
    await service.mongo.close()


async def test_each_route_answers_401_403_or_success_by_its_rule(make_settings: Any) -> None:
    service, _ = await start_notifier(make_settings)
    calls = {
        "me": ("GET", "/me"),
        "board": ("GET", "/board"),
        "acknowledge": ("POST", "/escalations/e-1/acknowledge"),
        "webhooks": ("GET", "/webhooks"),
        "delete": ("DELETE", "/webhooks/no-such-room"),
        "deliveries": ("GET", "/deliveries"),
        "events": ("GET", "/events"),
    }
    people = (None, "ag-nika", "lead-technical", "mgr-accounts", "ops-rin", "somebody-else")
    answers: dict[tuple[str, str | None], int] = {}
    async with client_of(service) as client:
        for person in people:
            for name, (method, path) in calls.items():
                if name == "events":
                    continue  # its token is in the query: below
                headers = bearer(person) if person else {}
                answers[name, person] = (
                    await client.request(method, path, headers=headers)
                ).status_code
        operator = (await client.get("/me", headers=bearer("ops-rin"))).json()
        operator_board = (await client.get("/board", headers=bearer("ops-rin"))).json()
        no_token = await client.get("/events")
        bad_token = await client.get("/events", params={"token": "not-a-token"})
        basic = await client.get("/board", headers={"Authorization": "Basic b3BzOnJpbg=="})

    def row(name: str) -> list[int]:
        return [answers[name, person] for person in people]

    # Anonymous, agent, lead, manager, operator, somebody the directory does not know.
    assert row("me") == [401, 200, 200, 200, 200, 401]
    assert row("board") == [401, 200, 200, 200, 200, 401]
    assert row("acknowledge") == [401, 404, 404, 404, 404, 401]
    assert row("webhooks") == [401, 403, 200, 200, 403, 401]
    assert row("delete") == [401, 403, 404, 404, 403, 401]
    assert row("deliveries") == [401, 403, 403, 403, 200, 401]
    assert operator == {
        "person_id": "ops-rin",
        "name": "Rin Tanaka",
        "role": "operator",
        "teams": [],
        "language": "en",
    }
    assert operator_board["tickets"] == [] and operator_board["escalations"] == []
    assert no_token.status_code == 401 and bad_token.status_code == 401
    assert basic.status_code == 401
    await service.mongo.close()


async def test_the_console_page_and_its_files_are_public_and_rate_limited(
    make_settings: Any,
) -> None:
    service, _ = await start_notifier(make_settings, public_rate_limit="4/minute")
    async with client_of(service) as client:
        page = await client.get("/console")
        script = await client.get("/console/static/console.js")
        styles = await client.get("/console/static/console.css")
        not_an_asset = await client.get("/console/static/index.html")
        outside = await client.get("/console/static/..%2Fconsole.py")  # matches no route
        refused = await client.get("/console")  # the fifth public request within a minute

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["x-content-type-options"] == "nosniff"
    assert styles.status_code == 200 and styles.headers["content-type"].startswith("text/css")
    assert not_an_asset.status_code == outside.status_code == 404
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    await service.mongo.close()


async def test_the_live_stream_takes_the_token_from_a_cookie_set_for_it_alone(
    make_settings: Any,
) -> None:
    """A browser hands its token over once; the stream then needs no token in its URL."""
    service, _ = await start_notifier(make_settings)
    async with client_of(service) as client:
        refused = await client.post("/live-session")
        direct = await client.post("/live-session", headers=bearer("ag-nika"))
        behind = await client.post(
            "/live-session", headers={**bearer("ag-nika"), "X-Forwarded-Prefix": "/notifier"}
        )
        ended = await client.delete("/live-session")
    assert refused.status_code == 401 and "set-cookie" not in refused.headers
    assert direct.status_code == 204
    cookie = direct.headers["set-cookie"]
    assert cookie.startswith("helpdesk_live=")
    assert {"HttpOnly", "Path=/events", "SameSite=strict"} <= {
        part.strip() for part in cookie.split(";")
    }
    assert "Path=/notifier/events" in behind.headers["set-cookie"]
    assert ended.status_code == 204 and 'helpdesk_live=""' in ended.headers["set-cookie"]

    token = cookie.split(";")[0]
    opened, hello = await first_status(service.http, "/events", headers={"Cookie": token})
    bad, _ = await first_status(service.http, "/events", headers={"Cookie": "helpdesk_live=x"})
    assert opened == 200 and "event: hello" in hello and '"ag-nika"' in hello
    assert bad == 401
    await service.mongo.close()


async def test_the_live_cookie_follows_the_public_url(make_settings: Any) -> None:
    service, _ = await start_notifier(
        make_settings, public_url="https://desk.example.com/helpdesk/notifier"
    )
    async with client_of(service) as client:
        answer = await client.post("/live-session", headers=bearer("ag-nika"))
    parts = {part.strip() for part in answer.headers["set-cookie"].split(";")}
    assert {"Path=/helpdesk/notifier/events", "Secure", "HttpOnly"} <= parts
    await service.mongo.close()
