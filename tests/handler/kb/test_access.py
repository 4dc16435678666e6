"""Who may do what in the knowledge base, route by route: the rule each route states, 401
without a token, 403 for people the rule or today's publishing check leaves out, 404 for what
is not published, 2xx for the right people; self-help links forged or expired refused; public
and link routes rate-limited."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.kb.config import load_config
from services.kb.service import SELF_HELP_ISSUER
from services.kb.settings import KbSettings
from shared.agent_tokens import TokenKeys
from shared.events import KbDeflected, KbSelfHelpOffered
from shared.language import LanguageDetector
from tests.conftest import ROOT
from tests.handler.kb.conftest import PUBLIC_URL, SECRET, Kb, running_kb
from tests.handler.kb.test_suggestions import opened, routed

#: Every route of the knowledge base and the rule it states.
RULES = {
    "GET /articles/search": "public",
    "GET /articles/{article_id}": "public",
    "POST /articles/{article_id}/feedback": "public",
    "GET /self-help/{token}": "link",
    "POST /self-help/{token}": "link",
    "POST /self-help/{token}/solved": "link",
    "POST /editor/articles": "staff",
    "GET /editor/articles": "staff",
    "GET /editor/articles/{article_id}": "staff",
    "PATCH /editor/articles/{article_id}": "staff",
    "GET /editor/articles/{article_id}/versions": "staff",
    "POST /editor/articles/{article_id}/publish": "staff",
    "POST /editor/articles/{article_id}/archive": "staff",
    "POST /editor/articles/{article_id}/unpublish": "staff",
    "GET /canned": "staff",
    "PUT /canned/{canned_id}": "staff",
    "DELETE /canned/{canned_id}": "staff",
    "POST /canned/{canned_id}/fill": "staff",
    "GET /reports/queries": "reports",
    "GET /reports/no-results": "reports",
    "GET /reports/articles": "reports",
    "GET /health/live": "public",
    "GET /health/ready": "public",
    "GET /metrics": "operator",
}
#: One request per people's route, on objects that exist (the seeded ones).
PEOPLES_CALLS: list[tuple[str, str, dict[str, Any] | None]] = [
    (
        "POST",
        "/editor/articles",
        {"article_id": "x", "translations": {"en": {"title": "X", "body": "x"}}},
    ),
    ("GET", "/editor/articles", None),
    ("GET", "/editor/articles/wifi-drops", None),
    ("PATCH", "/editor/articles/wifi-drops", {"version": 1}),
    ("GET", "/editor/articles/wifi-drops/versions", None),
    ("POST", "/editor/articles/wifi-drops/publish", None),
    ("POST", "/editor/articles/wifi-drops/archive", None),
    ("POST", "/editor/articles/wifi-drops/unpublish", None),
    ("GET", "/canned", None),
    ("PUT", "/canned/x", {"canned_id": "x", "title": "X", "texts": {"en": "Hi"}}),
    ("DELETE", "/canned/password-reset-link", None),
    ("POST", "/canned/password-reset-link/fill", {"language": "en"}),
    ("GET", "/reports/queries", None),
    ("GET", "/reports/no-results", None),
    ("GET", "/reports/articles", None),
]
DRAFT = {
    "article_id": "modem-lights",
    "category": "network",
    "translations": {"en": {"title": "Modem lights", "body": "A blinking light means sync."}},
}
OTHER_SECRET = "another-secret-nobody-here-signs-with-1234567"


async def call(
    kb: Kb, method: str, path: str, body: Any = None, who: str | None = None
) -> httpx.Response:
    headers = kb.auth(who) if who else {}
    return await kb.http.request(method, path, json=body, headers=headers)


async def draft(kb: Kb, article: dict[str, Any] = DRAFT) -> None:
    created = await call(kb, "POST", "/editor/articles", article, who="ag-dina")
    assert created.status_code == 201, created.text


def test_every_route_states_the_rule_of_the_table(kb: Kb) -> None:
    spec = kb.service.http.openapi()
    stated = {
        f"{method.upper()} {path}": op["x-access"]
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
    }
    assert stated == RULES
    reports = spec["paths"]["/reports/queries"]["get"]
    assert "Service-wide" in reports["description"]
    publish = spec["paths"]["/editor/articles/{article_id}/publish"]["post"]["responses"]
    assert {"401", "403", "404", "409", "503"} <= set(publish)
    link = spec["paths"]["/self-help/{token}/solved"]["post"]["responses"]
    assert {"401", "404", "429", "503"} <= set(link)


@pytest.mark.parametrize(("method", "path", "body"), PEOPLES_CALLS)
async def test_peoples_routes_refuse_no_token_a_forged_token_and_a_stranger(
    kb: Kb, method: str, path: str, body: Any
) -> None:
    none = await call(kb, method, path, body)
    assert none.status_code == 401 and none.headers["WWW-Authenticate"] == "Bearer"
    now = datetime.now(UTC)
    forged = TokenKeys(OTHER_SECRET).issue("mgr-technical", ttl=timedelta(hours=1), now=now)
    refused = await kb.http.request(
        method, path, json=body, headers={"Authorization": f"Bearer {forged}"}
    )
    assert refused.status_code == 401
    assert (await call(kb, method, path, body, who="stranger")).status_code == 401


async def test_agents_and_operators_may_not_publish_or_write_canned_responses(kb: Kb) -> None:
    await draft(kb)
    for who in ("ag-dina", "ops-rin"):
        for action in ("publish", "archive"):
            answer = await call(kb, "POST", f"/editor/articles/modem-lights/{action}", who=who)
            assert answer.status_code == 403, (who, action)
        canned = {"canned_id": "x", "title": "X", "texts": {"en": "Hi {customer_name}"}}
        assert (await call(kb, "PUT", "/canned/x", canned, who=who)).status_code == 403
        gone = await call(kb, "DELETE", "/canned/password-reset-link", who=who)
        assert gone.status_code == 403
        # A published article is edited and unpublished by publishers only.
        edit = {"version": 1, "tags": ["wifi"]}
        assert (
            await call(kb, "PATCH", "/editor/articles/wifi-drops", edit, who=who)
        ).status_code == 403
        back = await call(kb, "POST", "/editor/articles/wifi-drops/unpublish", who=who)
        assert back.status_code == 403
    listed = await call(kb, "GET", "/canned", who="ag-dina")
    assert "password-reset-link" in [c["canned_id"] for c in listed.json()]
    assert "x" not in [c["canned_id"] for c in listed.json()]
    article = await call(kb, "GET", "/editor/articles/modem-lights", who="ag-dina")
    assert article.json()["status"] == "draft"


async def test_leads_and_managers_publish_archive_unpublish_and_write_canned(kb: Kb) -> None:
    await draft(kb)
    steps = [
        ("lead-technical", "publish", "published"),
        ("mgr-accounts", "unpublish", "draft"),
        ("mgr-service-desk", "archive", "archived"),
    ]
    for who, action, status in steps:
        answer = await call(kb, "POST", f"/editor/articles/modem-lights/{action}", who=who)
        assert answer.status_code == 200 and answer.json()["status"] == status, answer.text
    canned = {"canned_id": "x", "title": "X", "texts": {"en": "Hi {customer_name}"}}
    assert (await call(kb, "PUT", "/canned/x", canned, who="lead-technical")).status_code == 200
    assert (await call(kb, "DELETE", "/canned/x", who="mgr-technical")).status_code == 204
    assert (await call(kb, "DELETE", "/canned/x", who="mgr-technical")).status_code == 404
    missing = await call(kb, "POST", "/editor/articles/nothing-here/publish", who="mgr-technical")
    assert missing.status_code == 404


async def test_an_editor_listed_in_kb_yaml_publishes_too(
    make_settings: Any, detector: LanguageDetector
) -> None:
    config = load_config(ROOT / "config")
    config = dataclasses.replace(
        config, rules=config.rules.model_copy(update={"editors": ["ag-nika"]})
    )
    settings = make_settings(KbSettings, agent_token_secret=SECRET)
    async with running_kb(settings, detector=detector, config=config) as kb:
        await draft(kb)
        published = await call(kb, "POST", "/editor/articles/modem-lights/publish", who="ag-nika")
        assert published.status_code == 200 and published.json()["status"] == "published"
        canned = {"canned_id": "x", "title": "X", "texts": {"en": "Hi"}}
        assert (await call(kb, "PUT", "/canned/x", canned, who="ag-nika")).status_code == 200
        # Another agent is still no editor.
        back = await call(kb, "POST", "/editor/articles/modem-lights/unpublish", who="ag-maria")
        assert back.status_code == 403


async def test_staff_read_and_write_drafts_and_use_canned_responses(kb: Kb) -> None:
    for who in ("ag-dina", "ops-rin"):
        article = {**DRAFT, "article_id": f"modem-{who}"}
        created = await call(kb, "POST", "/editor/articles", article, who=who)
        assert created.status_code == 201 and created.json()["created_by"] == who
        path = f"/editor/articles/modem-{who}"
        assert (await call(kb, "GET", path, who=who)).json()["status"] == "draft"
        change = {"version": 1, "tags": ["modem"]}
        edited = await call(kb, "PATCH", path, change, who=who)
        assert edited.status_code == 200 and edited.json()["version"] == 2
        versions = await call(kb, "GET", f"{path}/versions", who=who)
        assert [v["version"] for v in versions.json()] == [2, 1]
        drafts = await call(kb, "GET", "/editor/articles?status=draft", who=who)
        assert f"modem-{who}" in [a["article_id"] for a in drafts.json()]
        assert (await call(kb, "GET", "/canned", who=who)).status_code == 200
        values = {"customer_name": "Ana", "agent_name": "Dina", "reference": "HD-1"}
        values["article_link"] = "https://help.example/kb/articles/password-reset"
        fill = {"language": "en", "values": values}
        filled = await call(kb, "POST", "/canned/password-reset-link/fill", fill, who=who)
        assert filled.status_code == 200 and "Ana" in filled.json()["text"]
    unknown = await call(kb, "GET", "/editor/articles/nothing-here", who="ag-dina")
    assert unknown.status_code == 404


async def test_reports_are_for_operators_leads_and_managers_and_service_wide(kb: Kb) -> None:
    await kb.http.get("/articles/search", params={"q": "wifi", "language": "en"})
    for path in ("/reports/queries", "/reports/no-results", "/reports/articles"):
        assert (await call(kb, "GET", path, who="ag-maria")).status_code == 403
        answers = [
            await call(kb, "GET", path, who=who)
            for who in ("ops-rin", "lead-technical", "mgr-accounts")
        ]
        assert all(a.status_code == 200 for a in answers), path
        # The same figures for every team's head: the knowledge base keeps none per team.
        assert answers[0].json() == answers[1].json() == answers[2].json()
    top = await call(kb, "GET", "/reports/queries", who="mgr-accounts")
    assert [row["query"] for row in top.json()] == ["wifi"]


async def test_public_routes_show_published_articles_only(kb: Kb) -> None:
    await draft(kb)
    await draft(kb, {**DRAFT, "article_id": "old-modem"})
    await call(kb, "POST", "/editor/articles/old-modem/archive", who="mgr-technical")

    assert (await kb.http.get("/articles/search", params={"q": "modem"})).status_code == 200
    assert (await kb.http.get("/articles/wifi-drops")).status_code == 200
    for article_id in ("modem-lights", "old-modem", "nothing-here"):
        hidden = await kb.http.get(f"/articles/{article_id}")
        assert hidden.status_code == 404, article_id
        assert "blinking" not in hidden.text
        vote = await kb.http.post(f"/articles/{article_id}/feedback", json={"helpful": True})
        assert vote.status_code == 404
    vote = await kb.http.post("/articles/wifi-drops/feedback", json={"helpful": True})
    assert vote.status_code == 202


async def offer(kb: Kb, ticket_id: str) -> str:
    """The token of the self-help link offered for a new password ticket."""
    await kb.send(opened(ticket_id, "Forgot my password", "How do I reset my password?"))
    await kb.send(routed(ticket_id, "account", "password"), kb.settings.topics.routing)
    [made] = [o for o in kb.of(KbSelfHelpOffered) if o.ticket_id == ticket_id]
    assert made.link.startswith(f"{PUBLIC_URL}/self-help/")
    return made.link.rsplit("/", 1)[1]


async def test_a_self_help_link_opens_its_ticket_and_a_forged_or_expired_one_nothing(
    kb: Kb,
) -> None:
    token = await offer(kb, "t-link")
    page = await kb.http.get(f"/self-help/{token}")
    assert page.status_code == 200 and page.json()["ticket_id"] == "t-link"
    html = await kb.http.get(f"/self-help/{token}", headers={"Accept": "text/html"})
    assert html.status_code == 200 and "<form" in html.text

    expired = kb.link("t-link", issued_ago=timedelta(days=8))
    other_secret = TokenKeys(OTHER_SECRET, issuer=SELF_HELP_ISSUER).issue(
        "t-link", ttl=timedelta(days=1), now=datetime.now(UTC)
    )
    for refused in ("not-a-token", expired, other_secret, kb.token("mgr-accounts")):
        for method, path, body in (
            ("GET", f"/self-help/{refused}", None),
            ("POST", f"/self-help/{refused}/solved", {"article_id": "password-reset"}),
        ):
            answer = await kb.http.request(method, path, json=body)
            assert answer.status_code == 401, (refused, path)
        form = await kb.http.post(
            f"/self-help/{refused}",
            content=b"article_id=password-reset",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert form.status_code == 401
    assert kb.of(KbDeflected) == []

    form = await kb.http.post(
        f"/self-help/{token}",
        content=b"article_id=password-reset",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 200 and "Thank you" in form.text
    assert [d.ticket_id for d in kb.of(KbDeflected)] == ["t-link"]
    again = await kb.http.post(f"/self-help/{token}/solved", json={"article_id": "password-reset"})
    assert again.json() == {"ticket_id": "t-link", "deflected": False}


async def test_a_form_longer_than_the_limit_is_refused(kb: Kb) -> None:
    token = await offer(kb, "t-long")
    body = b"article_id=password-reset&x=" + b"a" * kb.settings.max_request_bytes
    answer = await kb.http.post(
        f"/self-help/{token}",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 413


async def test_public_and_link_routes_are_rate_limited_per_client(
    make_settings: Any, detector: LanguageDetector
) -> None:
    settings = make_settings(
        KbSettings, agent_token_secret=SECRET, public_url=PUBLIC_URL, public_rate_limit="3/minute"
    )
    async with running_kb(settings, detector=detector) as kb:
        searches = [
            (await kb.http.get("/articles/search", params={"q": "wifi"})).status_code
            for _ in range(4)
        ]
        assert searches == [200, 200, 200, 429]
        # Guessing links is limited before any token is looked at.
        links = [(await kb.http.get("/self-help/guess")).status_code for _ in range(4)]
        assert links == [401, 401, 401, 429]
        refused = await kb.http.get("/self-help/guess")
        assert int(refused.headers["Retry-After"]) >= 1
        # People's routes are not counted against the public limit.
        for _ in range(4):
            assert (await call(kb, "GET", "/canned", who="ag-dina")).status_code == 200
