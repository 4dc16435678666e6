"""The reports page in a real headless Chromium, against the insights service served by uvicorn.

The service folds a month of tickets from events published through its own subscribers (an
in-memory broker and store); the test looks at the page as an operator and as a team's lead
would, clicks figures to the tickets behind them, and checks what the API lets each see.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import pytest
import uvicorn
from faststream.kafka import TestKafkaBroker
from playwright.async_api import Browser, Page, expect

from devstack.stack import free_port
from services.insights.app import build_app
from services.insights.charts import CHARTS
from services.insights.settings import InsightsSettings
from services.insights.store_memory import MemoryInsightsStore
from shared.agent_tokens import TokenKeys
from shared.events import (
    Event,
    SlaBreached,
    SlaMet,
    TicketAgentReplied,
    TicketAssigned,
    TicketCsatReceived,
    TicketOpened,
    TicketRouted,
    TicketStatusChanged,
    TicketTransferred,
)
from tests.conftest import ROOT, eventually
from tests.e2e.browsers import artefacts_dir, fresh_page, needs_chromium

pytestmark = [pytest.mark.e2e, needs_chromium]
SECRET = "insights-page-test-secret-of-at-least-32-bytes"
OPERATOR, LEAD, AGENT = "ops-rin", "lead-technical", "ag-nika"
XSS = "<img src=x onerror=window.__xss=1>"
CATEGORY = f"printers {XSS}"
XSS_REFERENCE = f"HD-{XSS}"
UNHAPPY = "HD-NET002"
PAGE_CSP = (
    "default-src 'self'; img-src 'self' blob:; script-src 'self'; style-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def token_for(person_id: str) -> str:
    return TokenKeys(SECRET).issue(person_id, ttl=timedelta(hours=1), now=datetime.now(UTC))


def _month_start(instant: datetime) -> datetime:
    return instant.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


#: The last whole month (its tickets' figures are settled) and the one before it.
MONTH = _month_start(_month_start(datetime.now(UTC)) - timedelta(days=1))
BEFORE = _month_start(MONTH - timedelta(days=1))
MONTH_END = _month_start(MONTH + timedelta(days=32))


def _topic(event: Event) -> str:
    """The topic (settings.topics attribute) each service publishes the event on."""
    if isinstance(event, SlaMet | SlaBreached):
        return "sla"
    if isinstance(event, TicketRouted | TicketAssigned | TicketTransferred):
        return "routing"
    return "tickets"


def _ticket(
    t: str,
    reference: str,
    opened: datetime,
    team: str,
    path: tuple[str, str | None, str | None],
    agent: str,
    *,
    reply: timedelta | None = timedelta(minutes=30),
    resolved: bool = True,
    csat: int | None = None,
    sla: str | None = None,
    transfers: int = 0,
) -> list[Event]:
    """A ticket's events, as intake, router and sla publish them."""
    category, subcategory, item = path
    hour = timedelta(hours=1)
    return [
        TicketOpened(ticket_id=t, reference=reference, contact_id=f"c-{t}", customer_id=f"cu-{t}",
                     channel="email", occurred_at=opened),
        TicketRouted(ticket_id=t, category=category, subcategory=subcategory, item=item,
                     impact="low", urgency="low", priority="P3", tier="L1", team=team,
                     reason="rules", occurred_at=opened),
        TicketAssigned(ticket_id=t, agent_id=agent, team=team, reason="free",
                       occurred_at=opened + timedelta(minutes=1)),
        *[TicketTransferred(ticket_id=t, from_team=team, to_team=team, transfer_count=n,
                            reason="skills", occurred_at=opened + timedelta(minutes=2))
          for n in range(1, transfers + 1)],
        *([TicketAgentReplied(ticket_id=t, agent_id=agent, body="done",
                              occurred_at=opened + reply)] if reply else []),
        *([SlaMet(ticket_id=t, metric="first_response", due_at=opened, used_seconds=60,
                  occurred_at=opened + hour)] if sla == "met" else []),
        *([SlaBreached(ticket_id=t, metric="first_response", due_at=opened, late_by_seconds=60,
                       occurred_at=opened + hour)] if sla == "breached" else []),
        *([TicketStatusChanged(ticket_id=t, status="resolved",
                               occurred_at=opened + 48 * hour)] if resolved else []),
        *([TicketCsatReceived(ticket_id=t, score=csat,
                              occurred_at=opened + 72 * hour)] if csat else []),
    ]  # fmt: skip


def _day(start: datetime, day: int) -> datetime:
    return start + timedelta(days=day - 1, hours=10)


EVENTS = [
    *_ticket("t-net-1", "HD-NET001", _day(MONTH, 3), "technical", ("network", "wifi", "router"),
             "ag-maria", csat=5, sla="met"),
    *_ticket("t-net-2", UNHAPPY, _day(MONTH, 4), "technical",
             ("network", "wifi", None), "ag-nika", reply=timedelta(days=1), csat=1,
             sla="breached", transfers=3),
    *_ticket("t-xss", XSS_REFERENCE, _day(MONTH, 6), "technical", (CATEGORY, None, None),
             "ag-maria", resolved=False),
    *_ticket("t-bill-1", "HD-BIL001", _day(MONTH, 5), "accounts", ("billing", "invoice", None),
             "ag-john", csat=2, sla="met"),
    *_ticket("t-bill-2", "HD-BIL002", _day(MONTH, 9), "accounts", ("billing", "refund", None),
             "ag-olga", reply=None, resolved=False),
    *_ticket("t-old-1", "HD-OLD001", _day(BEFORE, 10), "technical", ("network", None, None),
             "ag-maria"),
    *_ticket("t-old-2", "HD-OLD002", _day(BEFORE, 12), "accounts", ("billing", None, None),
             "ag-john"),
]  # fmt: skip
#: The page's filters, in its address: both months, per week, the last month's categories.
FILTERS = {
    "since": BEFORE.date().isoformat(),
    "until": (MONTH_END - timedelta(days=1)).date().isoformat(),
    "period": "week",
    "month": f"{MONTH.year}-{MONTH.month:02d}",
}
WINDOW = {"since": BEFORE.isoformat(), "until": MONTH_END.isoformat()}


@dataclass
class Desk:
    url: str

    def page(self, person_id: str, **filters: str) -> str:
        fragment = urlencode({"token": token_for(person_id), **FILTERS, **filters})
        return f"{self.url}/reports/page#{fragment}"

    def api(self, person_id: str) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token_for(person_id)}"}
        return httpx.AsyncClient(base_url=self.url, headers=headers)


@pytest.fixture(scope="module")
async def desk() -> AsyncIterator[Desk]:
    """An insights service whose subscribers folded `EVENTS`, served by uvicorn on a free port."""
    settings = InsightsSettings(
        agent_token_secret=SECRET,
        config_dir=ROOT / "config",
        environment="local",
        public_rate_limit="1000/minute",
    )
    store = MemoryInsightsStore()
    service = build_app(settings, store=store)
    async with TestKafkaBroker(service.broker) as broker:
        for event in EVENTS:
            topic = getattr(settings.topics, _topic(event))
            await broker.publish(event.model_dump(mode="json"), topic, key=event.kafka_key())
    assert len(store.stored) == 7, sorted(store.stored)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            service.http,
            host="127.0.0.1",
            port=port,
            lifespan="off",
            log_config=None,
            timeout_graceful_shutdown=2,
        )
    )
    serving = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: server.started, timeout=10)
        yield Desk(f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        await serving
        await service.mongo.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    async with fresh_page(browser, 1400, 1000) as opened:
        yield opened


def _console_problems(page: Page) -> list[str]:
    """What the browser says against the page: CSP refusals, errors of its script."""
    problems: list[str] = []
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if "Content Security Policy" in m.text or m.type == "error"
            else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


async def _charts_loaded(page: Page) -> None:
    """Every chart's <img> shows its SVG: loaded from its blob URL, with a natural size."""
    await page.wait_for_function(
        """count => {
            const imgs = [...document.querySelectorAll("img[data-chart]")];
            return imgs.length === count && imgs.every(
                (img) => img.dataset.state === "loaded" && img.complete && img.naturalWidth > 0
                    && img.src.startsWith("blob:"));
        }""",
        arg=len(CHARTS),
        timeout=15_000,
    )


async def test_an_operator_sees_every_team_charted_and_the_tickets_behind_a_figure(
    desk: Desk, page: Page
) -> None:
    problems = _console_problems(page)

    response = await page.goto(desk.page(OPERATOR))
    assert response is not None
    assert response.headers["content-security-policy"] == PAGE_CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    await _charts_loaded(page)
    assert "token=" not in page.url, "the token must leave the address bar"
    assert f"month={FILTERS['month']}" in page.url, "the filters stay in the address"

    teams = page.locator("#team-table tbody tr")
    await expect(teams).to_have_count(2)
    await expect(page.locator('#team-table tr[data-group="technical"]')).to_contain_text("50%")
    await expect(page.locator('#team-table tr[data-group="accounts"]')).to_be_visible()
    categories = page.locator("#category-table")
    await expect(categories).to_contain_text("network")
    await expect(categories).to_contain_text("billing")
    await expect(page.locator("#agent-table")).to_contain_text("ag-john")
    await expect(page.locator("#trend-table tbody tr").first).to_be_visible()

    # Markup in a category is shown as text: it never became an element.
    marked = categories.locator("tbody tr").filter(has_text=CATEGORY)
    await expect(marked).to_have_count(1)
    assert await marked.locator("th").text_content() == CATEGORY

    # A figure links to its tickets: technical's CSAT of 2 or lower, over the same window.
    unhappy = page.locator(
        '#team-table tr[data-group="technical"] a[data-condition="csat_at_most"]'
    )
    href = await unhappy.get_attribute("href")
    assert href is not None
    # Relative to the page, so that it holds behind the gateway's /insights prefix too.
    target = urlsplit(urljoin(page.url, href))
    assert target.path == "/reports/tickets"
    asked = {k: v[0] for k, v in parse_qs(target.query).items()}
    window = {k: datetime.fromisoformat(asked.pop(k)) for k in ("since", "until")}
    assert window == {"since": BEFORE, "until": MONTH_END}
    assert asked == {"dimension": "team", "group": "technical", "csat_at_most": "2"}
    await unhappy.click()
    drilled = page.locator("#drill-table tbody tr")
    await expect(drilled).to_have_count(1)
    await expect(drilled.first.locator("th")).to_have_text(UNHAPPY)
    await expect(page.locator("#drill-caption")).to_contain_text("1 ticket: technical")
    await expect(page.locator("#drill-caption")).to_contain_text("CSAT 2 or lower")

    # The marked category's count opens its ticket, whose reference holds markup too.
    await marked.locator("a.drill").click()
    await expect(page.locator("#drill-caption")).to_contain_text(CATEGORY)
    await expect(drilled).to_have_count(1)
    assert await drilled.first.locator("th").text_content() == XSS_REFERENCE
    await expect(drilled.first).to_contain_text(CATEGORY)
    assert await page.locator("main table img").count() == 0
    assert await page.evaluate("() => window.__xss") is None

    picture = artefacts_dir() / "insights-page.png"
    await page.screenshot(path=str(picture), full_page=True)
    print(f"reports page screenshot: {picture}")
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert picture.stat().st_size > 50_000
    assert problems == [], problems

    async with desk.api(OPERATOR) as api:
        chart = await api.get("/reports/charts/sla.svg", params=WINDOW)
    assert chart.status_code == 200
    assert chart.headers["content-type"] == "image/svg+xml"
    assert "technical" in chart.text and "accounts" in chart.text
    assert "<script" not in chart.text


async def test_a_lead_sees_only_their_team_and_is_refused_another(desk: Desk, page: Page) -> None:
    problems = _console_problems(page)

    await page.goto(desk.page(LEAD))
    await _charts_loaded(page)
    await expect(page.locator("#team-table tbody tr")).to_have_count(1)
    await expect(page.locator('#team-table tr[data-group="technical"]')).to_be_visible()
    for table in ("#team-table", "#category-table", "#agent-table"):
        await expect(page.locator(table)).not_to_contain_text("accounts")
    await expect(page.locator("#category-table")).not_to_contain_text("billing")
    await expect(page.locator("#agent-table")).not_to_contain_text("ag-john")

    await page.locator("#team").fill("accounts")
    await page.locator("#filters button[type=submit]").click()
    await expect(page.locator("#message")).to_contain_text("team accounts is not one of yours")
    await expect(page.locator('img[data-chart="sla"]')).to_have_attribute("data-state", "failed")
    # No figure of the team before is left standing under the refused filter.
    await expect(page.locator("#team-table tbody tr")).to_have_count(0)
    await expect(page.locator("#category-table tbody tr")).to_have_count(0)
    await page.screenshot(path=str(artefacts_dir() / "insights-page-lead.png"), full_page=True)
    # The refusals are the page's own message; the browser logs each failed request too.
    assert all("Content Security Policy" not in p for p in problems), problems

    async with desk.api(LEAD) as api:
        theirs = await api.get("/reports/charts/sla.svg", params={**WINDOW, "team": "accounts"})
        own = await api.get("/reports/charts/sla.svg", params=WINDOW)
        figures = await api.get(
            "/reports/figures", params={**WINDOW, "period": "all", "dimension": "team"}
        )
    assert theirs.status_code == 403
    assert own.status_code == 200 and "technical" in own.text and "accounts" not in own.text
    assert [f["group"] for f in figures.json()] == ["technical"]


async def test_an_agent_is_told_reports_are_not_theirs_and_sees_no_figure(
    desk: Desk, page: Page
) -> None:
    await page.goto(desk.page(AGENT))

    await expect(page.locator("#message")).to_contain_text("only an operator, a lead or a manager")
    await expect(page.locator("#sign-in")).to_be_visible()
    await expect(page.locator("#reports")).to_be_hidden()
    assert await page.evaluate("() => sessionStorage.length") == 0
    loaded: int = await page.evaluate(
        "() => [...document.querySelectorAll('img[data-chart]')].filter(i => i.src).length"
    )
    assert loaded == 0
