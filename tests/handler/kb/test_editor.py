"""The editor API: drafts, edits with versions, publishing by leads and managers, search of
what was just published; canned responses; the analytics reports; escaping on every page."""

from __future__ import annotations

from typing import Any

from shared.events import KbArticleChanged, KbSearched
from tests.handler.kb.conftest import Kb

ARTICLE: dict[str, Any] = {
    "article_id": "router-lights",
    "category": "network",
    "tags": ["router"],
    "translations": {
        "en": {"title": "What the router lights mean", "body": "A red light means no line."},
        "el": {"title": "Τι σημαίνουν οι λυχνίες", "body": "Η κόκκινη λυχνία σημαίνει βλάβη."},
    },
}


async def search(kb: Kb, q: str, language: str | None = None) -> dict[str, Any]:
    params = {"q": q, **({"language": language} if language else {})}
    answer = await kb.http.get("/articles/search", params=params)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def test_an_article_is_written_edited_published_and_found_at_once(kb: Kb) -> None:
    agent, manager = kb.auth("ag-maria"), kb.auth("mgr-technical")
    created = await kb.http.post("/editor/articles", json=ARTICLE, headers=agent)
    assert created.status_code == 201, created.text
    assert (created.json()["status"], created.json()["version"]) == ("draft", 1)
    assert (await search(kb, "lights", "en"))["results"] == []

    refused = await kb.http.post("/editor/articles/router-lights/publish", headers=agent)
    assert refused.status_code == 403
    published = await kb.http.post("/editor/articles/router-lights/publish", headers=manager)
    assert published.json()["status"] == "published"
    found = await search(kb, "router light", "en")
    assert found["results"][0]["article_id"] == "router-lights"

    change = {"version": 2, "translations": {"en": {"title": "Router lamps", "body": "Blue."}}}
    edited = await kb.http.patch("/editor/articles/router-lights", json=change, headers=manager)
    assert edited.status_code == 200 and edited.json()["version"] == 3
    stale = await kb.http.patch("/editor/articles/router-lights", json=change, headers=manager)
    assert stale.status_code == 409
    assert (await search(kb, "lamps", "en"))["results"][0]["article_id"] == "router-lights"
    assert (await search(kb, "lights", "en"))["results"] == []
    # The Greek translation was left as it was, and is found without accents.
    assert (await search(kb, "λυχνιες", "el"))["results"][0]["language"] == "el"

    versions = await kb.http.get("/editor/articles/router-lights/versions", headers=agent)
    assert [v["version"] for v in versions.json()] == [3, 2, 1]
    changes = [(e.article_id, e.version) for e in kb.of(KbArticleChanged)]
    assert changes == [("router-lights", 1), ("router-lights", 2), ("router-lights", 3)]

    archived = await kb.http.post("/editor/articles/router-lights/archive", headers=manager)
    assert archived.json()["status"] == "archived"
    assert (await search(kb, "lamps", "en"))["results"] == []
    gone = await kb.http.get("/articles/router-lights")
    assert gone.status_code == 404


async def test_editor_api_needs_a_token_and_valid_articles(kb: Kb) -> None:
    assert (await kb.http.post("/editor/articles", json=ARTICLE)).status_code == 401
    bad = {**ARTICLE, "translations": {"de": {"title": "Router", "body": "x"}}}
    answer = await kb.http.post("/editor/articles", json=bad, headers=kb.auth("ag-maria"))
    assert answer.status_code == 422 and "not supported" in answer.text
    again = await kb.http.post("/editor/articles", json=ARTICLE, headers=kb.auth("ag-maria"))
    assert again.status_code == 201
    taken = await kb.http.post("/editor/articles", json=ARTICLE, headers=kb.auth("ag-maria"))
    assert taken.status_code == 409


async def test_html_in_articles_and_queries_is_escaped(kb: Kb) -> None:
    hostile = {
        "article_id": "hostile",
        "translations": {
            "en": {
                "title": "<img src=x onerror=alert(1)> Printer",
                "body": "Printer <script>alert('body')</script> jams & stops",
            }
        },
    }
    manager = kb.auth("mgr-technical")
    await kb.http.post("/editor/articles", json=hostile, headers=manager)
    await kb.http.post("/editor/articles/hostile/publish", headers=manager)
    found = await search(kb, "<script>printer</script>", "en")
    [result] = found["results"]
    assert "<script>" not in result["snippet"]
    assert "&lt;<mark>script</mark>&gt;alert(&#x27;body&#x27;)" in result["snippet"]
    assert result["snippet"].startswith("<mark>Printer</mark>")
    # Titles travel as JSON text; the self-help page renders them escaped (see below).
    assert result["title"].startswith("<img")
    from services.kb.self_help_page import Offer, offered_article, render
    from services.kb.store import MongoKbStore

    article = await MongoKbStore(kb.service.db).article("hostile")
    assert article is not None
    page = render(
        Offer(
            ticket_id="t",
            reference="HD-1",
            language="en",
            articles=[offered_article(article, "en")],
        ),
        "tok",
    )
    assert "<img src=x" not in page and "<script>alert" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


async def test_canned_responses_fill_their_placeholders_per_language(kb: Kb) -> None:
    agent = kb.auth("ag-olga")
    listed = await kb.http.get("/canned", params={"language": "ru"}, headers=agent)
    assert "password-reset-link" in [c["canned_id"] for c in listed.json()]
    values = {
        "customer_name": "Анна",
        "agent_name": "Ольга",
        "reference": "HD-7K3Q9X",
        "article_link": "https://help.example/kb/articles/password-reset",
    }
    filled = await kb.http.post(
        "/canned/password-reset-link/fill", json={"language": "ru", "values": values}, headers=agent
    )
    assert filled.status_code == 200
    text = filled.json()["text"]
    assert text.startswith("Здравствуйте, Анна!") and "Ольга (HD-7K3Q9X)" in text
    missing = await kb.http.post(
        "/canned/password-reset-link/fill",
        json={"language": "fa", "values": {"customer_name": "Sara"}},
        headers=agent,
    )
    assert missing.status_code == 422 and "agent_name" in missing.text

    unknown = {"canned_id": "x", "title": "X", "texts": {"en": "Hi {customer}"}}
    refused = await kb.http.put("/canned/x", json=unknown, headers=kb.auth("mgr-accounts"))
    assert refused.status_code == 422 and "unknown placeholder" in refused.text
    ok = {"canned_id": "x", "title": "X", "texts": {"en": "Hi {customer_name}"}}
    assert (await kb.http.put("/canned/x", json=ok, headers=agent)).status_code == 403
    assert (await kb.http.put("/canned/x", json=ok, headers=kb.auth("mgr-accounts"))).is_success


async def test_reports_show_top_queries_empty_searches_and_article_use(kb: Kb) -> None:
    for q in ("Wi-Fi drops", "wi-fi DROPS", "Wi-Fi drops", "refund policy"):
        await search(kb, q, "en")
    first = await search(kb, "пароль", "ru")
    opened = await kb.http.get(
        "/articles/password-reset", params={"language": "ru", "query_id": first["query_id"]}
    )
    assert opened.json()["title"] == "Как сбросить пароль"
    vote = await kb.http.post("/articles/password-reset/feedback", json={"helpful": False})
    assert vote.status_code == 202
    assert len(kb.of(KbSearched)) == 5

    headers = kb.auth("mgr-service-desk")
    top = (await kb.http.get("/reports/queries", headers=headers)).json()
    assert (top[0]["searches"], top[0]["language"]) == (3, "en")
    by_query = {row["query"].lower(): row for row in top}
    assert by_query["пароль"]["opened"] == 1
    empty = (await kb.http.get("/reports/no-results", headers=headers)).json()
    assert [row["query"] for row in empty] == ["refund policy"]
    articles = (await kb.http.get("/reports/articles", headers=headers)).json()
    row = next(r for r in articles if r["article_id"] == "password-reset")
    assert (row["views"], row["not_helpful"]) == (1, 1)
    assert (await kb.http.get("/reports/queries")).status_code == 401


async def test_the_report_command_prints_the_same_reports(kb: Kb) -> None:
    from services.kb.report import report

    await search(kb, "printer on fire", "en")
    await search(kb, "printer on fire", "en")
    printed = await report("no-results", 30, 10, kb.settings)
    header, row = printed.splitlines()
    assert header.split()[:3] == ["query", "language", "searches"]
    assert row.split()[:5] == ["printer", "on", "fire", "en", "2"]
    assert await report("articles", 30, 10, kb.settings) == "(nothing yet)"
    await kb.http.get("/articles/wifi-drops")
    articles = (await report("articles", 30, 10, kb.settings)).splitlines()
    assert articles[0].split()[:2] == ["article_id", "views"]
    assert articles[1].split()[:2] == ["wifi-drops", "1"]
