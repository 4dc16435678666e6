"""The agent console in a real headless Chromium, against a notifier on the real local stack.

Events go through Kafka; the notifier projects them and streams them to the page over SSE; the
test looks at the page as an agent would, and at what the server reports.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from faststream.kafka import KafkaBroker
from playwright.async_api import Browser, Page, expect

from devstack.stack import free_port
from services.notifier.app import build_app
from services.notifier.settings import NotifierSettings
from shared.agent_tokens import AgentTokens
from shared.broker import make_broker, publish_event
from shared.events import (
    Event,
    SlaBreached,
    SlaStarted,
    SlaWarning,
    TicketAssigned,
    TicketOpened,
    TicketQueued,
    TicketRouted,
)
from shared.ids import ticket_reference
from shared.runtime import Service
from tests.conftest import eventually, serving_smtp
from tests.e2e.browsers import artefacts_dir, fresh_page, needs_chromium

pytestmark = [pytest.mark.e2e, needs_chromium]
SECRET = "console-test-secret-of-at-least-32-bytes"
AGENT = "ag-maria"
XSS = "<img src=x onerror=window.__xss=1>"
SUBJECT = f"Office Wi-Fi down {XSS}\nاینترنت دفتر از صبح قطع است"
CUSTOMER = "Shirin Tehrani"


def token_for(person_id: str, secret: str = SECRET) -> str:
    return AgentTokens(secret).issue(person_id, ttl=timedelta(hours=1), now=datetime.now(UTC))


class _Mailbox:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


@dataclass
class Console:
    service: Service
    settings: NotifierSettings
    url: str
    producer: KafkaBroker

    async def publish(self, topic: str, *events: Event) -> None:
        for event in events:
            await publish_event(self.producer, topic, event)


def _consuming(service: Service) -> bool:
    """Every subscriber of the service has joined its group and holds partitions."""
    for subscriber in service.broker.subscribers:
        consumers = getattr(subscriber, "consumer_subgroup", None) or [
            getattr(subscriber, "consumer", None)
        ]
        if not all(c is not None and c.assignment() for c in consumers):
            return False
    return True


@pytest.fixture
def smtp_port() -> Iterator[int]:
    with serving_smtp(_Mailbox()) as port:
        yield port


@pytest.fixture
async def notifier(make_settings: Any, smtp_port: int) -> AsyncIterator[Console]:
    """A notifier with its Kafka consumers running, served by uvicorn on a free port."""
    settings = make_settings(
        NotifierSettings, agent_token_secret=SECRET, smtp_port=smtp_port, poll_seconds=0.2
    )
    service = build_app(settings)
    await service.start()
    producer = make_broker(settings)
    await producer.start()
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
        await eventually(lambda: _consuming(service), timeout=30)
        yield Console(service, settings, f"http://127.0.0.1:{port}", producer)
    finally:
        server.should_exit = True
        await serving
        await producer.stop()
        await service.stop()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    async with fresh_page(browser, 1280, 900) as opened:
        # The assertions read the English words; the directory gives Maria Greek.
        await opened.add_init_script("localStorage.setItem('helpdesk.console.language', 'en')")
        yield opened


def _csp_reports(page: Page) -> list[str]:
    reports: list[str] = []
    page.on(
        "console",
        lambda m: reports.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return reports


async def test_console_shows_the_queue_live_and_acknowledges_a_breach(
    notifier: Console, page: Page
) -> None:
    topics = notifier.settings.topics
    own, queued = f"t-console-{uuid.uuid4().hex[:8]}", f"t-console-{uuid.uuid4().hex[:8]}"
    reports = _csp_reports(page)

    response = await page.goto(f"{notifier.url}/console#token={token_for(AGENT)}")
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    await expect(page.locator("#person-name")).to_have_text("Maria Nikolaou")
    await expect(page.locator("#person-teams")).to_have_text("technical")
    await expect(page.locator("#live")).to_have_text("live")
    assert "token=" not in page.url, "the token must leave the address bar"
    await page.evaluate("() => { window.__loadedOnce = true; }")

    due = datetime.now(UTC) + timedelta(hours=1)
    await notifier.publish(
        topics.tickets,
        TicketOpened(
            ticket_id=own,
            reference=ticket_reference(own),
            contact_id=f"c-{own}",
            customer_id="cu-shirin",
            customer_name=CUSTOMER,
            channel="email",
            subject=SUBJECT,
            language="fa",
        ),
        TicketOpened(
            ticket_id=queued,
            reference=ticket_reference(queued),
            contact_id=f"c-{queued}",
            customer_id="cu-nikos",
            customer_name="Nikos Pappas",
            channel="chat",
            subject="Cannot install the update",
        ),
    )
    await notifier.publish(
        topics.routing,
        TicketRouted(
            ticket_id=own,
            category="network",
            impact="high",
            urgency="medium",
            priority="P2",
            tier="L1",
            team="technical",
            reason="wifi outage",
        ),
        TicketAssigned(ticket_id=own, agent_id=AGENT, team="technical", reason="least loaded"),
        TicketRouted(
            ticket_id=queued,
            category="software",
            impact="low",
            urgency="low",
            priority="P3",
            tier="L1",
            team="technical",
            reason="install problem",
        ),
        TicketQueued(
            ticket_id=queued,
            team="technical",
            tier="L1",
            priority="P3",
            order="fifo",
            reason="nobody free",
        ),
    )
    facts: dict[str, Any] = {
        "ticket_id": own,
        "metric": "first_response",
        "team": "technical",
        "assignee_id": AGENT,
        "priority": "P2",
        "category": "network",
    }
    await notifier.publish(topics.sla, SlaStarted(**facts, due_at=due, target_seconds=3600))

    mine = page.locator(f'tr[data-ticket-id="{own}"]')
    theirs = page.locator(f'tr[data-ticket-id="{queued}"]')
    await expect(mine.locator(".priority")).to_have_text("P2")
    await expect(mine.locator(".category")).to_have_text("network")
    await expect(mine.locator(".customer")).to_have_text(CUSTOMER)
    await expect(mine.locator(".assignee")).to_contain_text("Maria Nikolaou")
    await expect(theirs.locator(".priority")).to_have_text("P3")
    await expect(theirs.locator(".category")).to_have_text("software")
    await expect(theirs.locator(".assignee")).to_have_text("queue")
    await expect(theirs.locator(".subject")).to_have_text("Cannot install the update")
    await expect(theirs.locator(".sla-label")).to_have_text("no target")

    # Customer text is shown as text: the markup in the subject never became an element.
    assert await mine.locator(".subject").text_content() == SUBJECT
    assert await page.locator("#rows img").count() == 0
    assert await page.evaluate("() => window.__xss") is None

    sla = mine.locator("td.sla")
    await expect(sla).to_have_class(re.compile(r"\bsla-green\b"))
    countdown = mine.locator(".sla-time")
    shown = await countdown.text_content() or ""
    assert re.fullmatch(r"0:[0-5]\d:[0-5]\d", shown), shown
    await expect(countdown).not_to_have_text(shown, timeout=3_000)

    await notifier.publish(
        topics.sla,
        SlaWarning(
            **facts,
            colour="amber",
            level_percent=75,
            due_at=due,
            remaining_seconds=(due - datetime.now(UTC)).total_seconds(),
        ),
    )
    await expect(sla).to_have_class(re.compile(r"\bsla-amber\b"))
    await expect(mine.locator(".sla-label")).to_have_text("at risk")

    breached_at = datetime.now(UTC)
    await notifier.publish(
        topics.sla,
        SlaBreached(
            **facts,
            colour="red",
            due_at=breached_at - timedelta(seconds=2),
            late_by_seconds=2,
            occurred_at=breached_at,
        ),
    )
    await expect(sla).to_have_class(re.compile(r"\bsla-red\b.*\boverdue\b"))
    await expect(countdown).to_have_text(re.compile(r"^overdue \d+:\d\d:\d\d$"))
    # The breached ticket sorts above the queue's ticket.
    await expect(page.locator("#rows tr").first).to_have_attribute("data-ticket-id", own)

    escalation = page.locator("#escalations li.escalation").filter(has_text=ticket_reference(own))
    await expect(escalation).to_have_count(1)
    await expect(escalation.locator(".rung")).to_have_text(re.compile(r"^rung 1 of \d+$"))
    escalation_id = await escalation.get_attribute("data-escalation-id")
    assert escalation_id

    await page.evaluate("id => { location.hash = 'escalation=' + id; }", escalation_id)
    await expect(escalation).to_have_class(re.compile(r"\bhighlight\b"))

    await escalation.get_by_role("button", name="Acknowledge").click()
    await expect(escalation.locator(".escalation-status")).to_contain_text(
        "acknowledged by Maria Nikolaou"
    )
    assert await page.evaluate("() => window.__loadedOnce") is True, "the page was reloaded"

    headers = {"Authorization": f"Bearer {token_for(AGENT)}"}
    async with httpx.AsyncClient(base_url=notifier.url, headers=headers) as http:
        board = (await http.get("/board")).json()
        assert all(
            e["status"] != "open"
            for e in board["escalations"]
            if e["escalation_id"] == escalation_id
        )
        again = await http.post(f"/escalations/{escalation_id}/acknowledge")
    assert again.status_code == 200
    assert (again.json()["status"], again.json()["acknowledged_by"]) == ("acknowledged", AGENT)

    # The ladder's own change reached the page too, and left the escalation whole.
    await expect(escalation.locator(".rung")).to_have_text(re.compile(r"^rung 1 of \d+$"))
    await expect(escalation.locator(".escalation-status")).to_contain_text("acknowledged by")
    await expect(escalation.get_by_role("button", name="Acknowledge")).to_have_count(0)

    picture = artefacts_dir() / "console.png"
    await page.screenshot(path=str(picture), full_page=True)
    print(f"console screenshot: {picture}")
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert picture.stat().st_size > 10_000
    assert reports == [], reports


async def test_console_refuses_a_bad_token_and_shows_no_data(notifier: Console, page: Page) -> None:
    forged = token_for(AGENT, secret="another-secret-that-is-32-bytes-long!!")
    await page.goto(f"{notifier.url}/console#token={forged}")

    await expect(page.locator("#message")).to_contain_text("token was refused")
    await expect(page.locator("#message")).to_contain_text("sign in again")
    await expect(page.locator("#sign-in")).to_be_visible()
    await expect(page.locator("#console")).to_be_hidden()
    await expect(page.locator("#who")).to_be_hidden()
    assert await page.locator("#rows tr").count() == 0
    assert await page.evaluate("() => sessionStorage.length") == 0
