"""The agents' workspace and the customers' portal in a real headless Chromium, through the
gateway (one origin), against every service as its own process on the real local stack.

Mail comes in through intake's own SMTP server; what the services send is caught by a real SMTP
server and read as the customer would. The browser sees only the gateway's address.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import smtplib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiosmtpd.controller import Controller
from playwright.async_api import Browser, FilePayload, Page, expect

from devstack.gateway import Gateway, behind
from devstack.pipeline import ROOT, Pipeline, RunSecrets, run_topics, topic_env
from devstack.stack import StackEndpoints, free_port
from shared.settings import TopicSettings
from tests.conftest import eventually
from tests.e2e.browsers import artefacts_dir, fresh_page, needs_chromium
from tests.e2e.mail import MailCatcher

pytestmark = [pytest.mark.e2e, needs_chromium]

CUSTOMER = "shirin.tehrani@example.ir"
CUSTOMER_NAME = "شیرین تهرانی"
XSS = "<img src=x onerror=window.__xss=1>"
FIRST_SUBJECT = "وای‌فای دفتر قطع می‌شود"
FIRST_BODY = "سلام، وای‌فای دفتر هر چند دقیقه قطع می‌شود، حتی بعد از خاموش و روشن کردن مودم."
SECOND_SUBJECT = f"باز هم وای‌فای قطع است {XSS}"
SECOND_BODY = "سلام، دوباره وای‌فای هر چند دقیقه قطع می‌شود و مودم را هم خاموش و روشن کردم."
#: What the mail client put under the new text: an earlier mail, quoted, and a signature.
QUOTED = "> مودم را یک بار خاموش و روشن کنید."
SIGNATURE = "شیرین تهرانی\nدفتر مرکزی"
NOTE = "مشتری مودم قدیمی دارد؛ سریال را قبلاً گرفته‌ایم."
#: How long after a resolution the satisfaction survey is offered, in this run.
SURVEY_DELAY_SECONDS = 2
#: One agent of each team (config/teams.yaml), for a ticket that waits in a team's queue.
AGENT_OF_TEAM = {"technical": "ag-nika", "accounts": "ag-darius", "service-desk": "ag-dina"}


@dataclass
class Desk:
    gateway: Gateway
    pipeline: Pipeline
    keys: RunSecrets
    mail: MailCatcher
    mail_in_port: int
    topics: TopicSettings
    seen: list[dict[str, Any]] = field(default_factory=list)

    def token(self, person_id: str) -> str:
        return self.keys.agent_token(person_id)

    def event(self, event_type: str, **match: Any) -> dict[str, Any] | None:
        return next(
            (
                e
                for e in self.seen
                if e.get("event_type") == event_type
                and all(e.get(k) == v for k, v in match.items())
            ),
            None,
        )


@pytest.fixture(scope="module")
def desk_run(stack: StackEndpoints, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    suffix = uuid.uuid4().hex[:8]
    config_dir = tmp_path_factory.mktemp("config")
    shutil.copytree(ROOT / "config", config_dir, dirs_exist_ok=True)
    insights = (config_dir / "insights.yaml").read_text(encoding="utf-8")
    (config_dir / "insights.yaml").write_text(
        insights.replace("delay: PT24H", f"delay: PT{SURVEY_DELAY_SECONDS}S"), encoding="utf-8"
    )
    mail = MailCatcher()
    smtp_port, mail_in_port, gateway_port = free_port(), free_port(), free_port()
    smtp = Controller(mail, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    keys = RunSecrets.generate(adapters=())
    env = {
        **topic_env(suffix),
        **keys.env(),
        "HELPDESK_CONFIG_DIR": str(config_dir),
        "HELPDESK_MONGO__DATABASE_PREFIX": f"ws{suffix}_",
        "HELPDESK_SMTP_HOST": "127.0.0.1",
        "HELPDESK_SMTP_PORT": str(smtp_port),
        "HELPDESK_SMTP_LISTEN_PORT": str(mail_in_port),
        "HELPDESK_LOGGING__FORMAT": "json",
    }
    topics = run_topics(suffix)
    logs = tmp_path_factory.mktemp("logs")
    pipeline = Pipeline(stack, env=env, log_dir=logs, service_env=behind(gateway_port))
    gateway: Gateway | None = None
    try:
        pipeline.start()
        upstreams = {name: svc.url for name, svc in pipeline.running.items()}
        gateway = Gateway(upstreams, port=gateway_port, log_path=logs / "gateway.log")
        gateway.start()
        yield Desk(gateway, pipeline, keys, mail, mail_in_port, topics)
    finally:
        if gateway is not None:
            gateway.stop()
        pipeline.stop()
        smtp.stop()


@pytest.fixture(scope="module")
async def desk(desk_run: Desk, stack: StackEndpoints) -> AsyncIterator[Desk]:
    """The run, with every ticket, routing and kb event it publishes kept as it comes."""
    topics = desk_run.topics
    consumer = AIOKafkaConsumer(
        topics.tickets,
        topics.routing,
        topics.kb,
        topics.insights,
        bootstrap_servers=stack.bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()

    async def pump() -> None:
        async for record in consumer:
            try:
                desk_run.seen.append(json.loads(record.value))
            except ValueError:
                continue

    task = asyncio.create_task(pump())
    try:
        yield desk_run
    finally:
        task.cancel()
        await consumer.stop()


def send_mail(port: int, subject: str, body: str) -> str:
    msg = EmailMessage()
    msg["From"] = f"{CUSTOMER_NAME} <{CUSTOMER}>"
    msg["To"] = "support@helpdesk.example"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="example.ir")
    msg.set_content(body)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.send_message(msg)
    return str(msg["Message-ID"])


@dataclass
class Tickets:
    first: dict[str, Any]
    second: dict[str, Any]
    team: str
    agent: str
    outsider: str


async def opened(desk: Desk, subject: str) -> dict[str, Any]:
    return await eventually(lambda: desk.event("ticket.opened", subject=subject), timeout=60)


async def holder(desk: Desk, ticket_id: str) -> tuple[str, str]:
    """The ticket's team and the agent who works it (its assignee, or one of the team)."""
    placed = await eventually(
        lambda: (
            desk.event("ticket.assigned", ticket_id=ticket_id)
            or desk.event("ticket.queued", ticket_id=ticket_id)
        ),
        timeout=60,
    )
    return placed["team"], placed.get("agent_id") or AGENT_OF_TEAM[placed["team"]]


@pytest.fixture(scope="module")
async def tickets(desk: Desk) -> Tickets:
    """A Persian customer's first ticket, with an agent's note, then a second one (a repeat)."""
    await asyncio.to_thread(send_mail, desk.mail_in_port, FIRST_SUBJECT, FIRST_BODY)
    first = await opened(desk, FIRST_SUBJECT)
    _, agent = await holder(desk, first["ticket_id"])
    async with httpx.AsyncClient(base_url=desk.gateway.url, timeout=20) as client:
        noted = await client.post(
            f"/intake/tickets/{first['ticket_id']}/notes",
            json={"body": NOTE},
            headers={"Authorization": f"Bearer {desk.token(agent)}"},
        )
        assert noted.status_code == 202, noted.text
    await eventually(lambda: desk.event("ticket.note_added", ticket_id=first["ticket_id"]))
    # Top-posted, as most clients write it: the new text, the signature, the quoted mail.
    quote = f"در تاریخ ۱۴۰۵/۰۹/۱۰، پشتیبانی نوشت:\n{QUOTED}\n"
    written = f"{SECOND_BODY}\n\n-- \n{SIGNATURE}\n\n{quote}"
    await asyncio.to_thread(send_mail, desk.mail_in_port, SECOND_SUBJECT, written)
    second = await opened(desk, SECOND_SUBJECT)
    assert second["customer_id"] == first["customer_id"]
    team2, agent2 = await holder(desk, second["ticket_id"])
    outsider = next(a for t, a in AGENT_OF_TEAM.items() if t != team2)
    return Tickets(first, second, team2, agent2, outsider)


async def sign_in(page: Page, desk: Desk, person_id: str, ticket_id: str | None = None) -> None:
    await page.goto(f"{desk.gateway.url}/workspace")
    await expect(page.locator("#sign-in")).to_be_visible()
    await page.fill("#token-input", desk.token(person_id))
    await page.click("#sign-in button[type=submit]")
    await expect(page.locator("#console")).to_be_visible()
    if ticket_id is not None:
        await page.evaluate("id => { location.hash = 'ticket=' + id; }", ticket_id)


async def enter_portal(portal: Page, desk: Desk) -> None:
    """Sign the customer in as they would: ask for a link, open it from the mail, continue."""
    asked = len(desk.mail.messages)
    async with httpx.AsyncClient(base_url=desk.gateway.url, timeout=20) as client:
        answer = await client.post("/intake/portal/sign-in", json={"email": CUSTOMER})
        assert answer.status_code == 202, answer.text

    def link() -> str | None:
        for m in desk.mail.messages[asked:]:
            found = re.search(r"\S+/portal/enter\?link=[\w.~-]+", m["body"])
            if CUSTOMER in m["to"] and found:
                return found.group(0)
        return None

    url = await eventually(link, timeout=30)
    assert url.startswith(f"{desk.gateway.url}/intake/portal/enter?link=")
    await portal.goto(url)
    await portal.click("#enter")
    await expect(portal.locator("#tickets")).to_be_visible()
    # The sign-in link is spent, and no token stays in the address.
    assert "link=" not in portal.url


def shot(name: str) -> str:
    return str(artefacts_dir() / f"workspace-{name}.png")


async def test_an_agent_works_a_persian_email_ticket_and_the_customer_gets_the_reply(
    browser: Browser, desk: Desk, tickets: Tickets
) -> None:
    second = tickets.second
    reference = second["reference"]
    await eventually(lambda: desk.event("kb.suggested", ticket_id=second["ticket_id"]), timeout=60)
    async with fresh_page(browser, 1440, 1000) as page:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await sign_in(page, desk, tickets.agent)
        row = page.locator(f"#rows tr[data-ticket-id='{second['ticket_id']}']")
        await expect(row).to_be_visible(timeout=30_000)
        # Found by its reference, and by the customer's words.
        for query in (reference.lower(), "دوباره وای‌فای"):
            await page.fill("#search-input", query)
            await page.press("#search-input", "Enter")
            found = page.locator(f"#search-results button[data-ticket-id='{second['ticket_id']}']")
            await expect(found).to_be_visible()
        await row.click()

        subject = page.locator("#ticket-subject")
        # A subject carrying HTML shows as text, and nothing in it runs.
        await expect(subject).to_contain_text(XSS)
        assert await page.evaluate("window.__xss") is None
        assert await page.locator("#ticket img[src=x]").count() == 0
        await expect(page.locator("#ticket-language")).to_contain_text("fa")
        message = page.locator("#timeline li.entry[data-kind=message]").first
        await expect(message).to_contain_text("دوباره وای‌فای")
        assert await page.locator("#timeline").get_attribute("dir") == "rtl"
        # The quoted mail and the signature are there, folded away under the new text.
        for part, text in (("quoted", QUOTED.lstrip("> ")), ("signature", "دفتر مرکزی")):
            folded = message.locator(f"details.{part}")
            assert await folded.get_attribute("open") is None, part
            await expect(folded).to_contain_text(text)
        assert "دفتر مرکزی" not in await message.locator(".entry-body").first.inner_text()

        # The customer's previous ticket and the note on it: the agent never asks twice.
        previous = page.locator(
            f"#previous-tickets li[data-ticket-id='{tickets.first['ticket_id']}']"
        )
        await expect(previous).to_contain_text(tickets.first["reference"])
        await expect(previous.locator(".previous-note")).to_contain_text(NOTE)
        await expect(page.locator("#repeat-flag")).to_be_visible()
        await expect(page.locator("#ticket-clocks .clock").first).to_be_visible()

        reply = page.locator("#reply-body")
        await page.select_option("#canned", "waiting-for-details")
        await page.click("#insert-canned")
        await expect(reply).to_have_value(re.compile(re.escape(reference)))
        link = page.locator("#suggestions .insert-link").first
        await expect(link).to_be_visible()
        await link.click()
        await expect(reply).to_have_value(re.compile(r"/intake/portal#article=wifi-drops"))
        await page.screenshot(path=shot("agent-reply"), full_page=True)
        typed = await reply.input_value()
        await page.click("#send-reply")

        def mailed() -> dict[str, Any] | None:
            return next(
                (
                    m
                    for m in desk.mail.messages
                    if CUSTOMER in m["to"]
                    and reference in m["subject"]
                    and "wifi-drops" in m["body"]
                ),
                None,
            )

        sent = await eventually(mailed, timeout=30)
        assert "{" not in sent["body"], "every placeholder was filled"
        assert typed.split("\n")[0].strip() in sent["body"]
        # The reply comes back through the events into the open ticket.
        await expect(page.locator("#timeline li.entry[data-kind=message]")).to_have_count(
            2, timeout=30_000
        )
        assert not errors, errors

    # The customer opens the article from the mail, signed in or not.
    article = re.search(r"\S+/intake/portal#article=wifi-drops\S*", sent["body"])
    assert article is not None and article.group(0).startswith(desk.gateway.url)
    async with fresh_page(browser, 1024, 800) as reader:
        await reader.goto(article.group(0))
        await expect(reader.locator("#kb-article")).to_be_visible()
        await expect(reader.locator("#kb-article-title")).not_to_be_empty()
        await expect(reader.locator("#sign-in")).to_be_visible()


async def test_the_customer_replies_from_the_portal_and_the_agent_sees_it_live(
    browser: Browser, desk: Desk, tickets: Tickets
) -> None:
    second = tickets.second
    async with (
        fresh_page(browser, 1280, 900) as agent_page,
        fresh_page(browser, 1024, 900) as portal,
    ):
        await sign_in(agent_page, desk, tickets.agent, second["ticket_id"])
        await expect(agent_page.locator("#ticket-subject")).to_contain_text(XSS)
        entries = agent_page.locator("#timeline li.entry[data-kind=message]")
        before = await entries.count()

        await enter_portal(portal, desk)
        item = portal.locator(f"#tickets [data-ticket-id='{second['ticket_id']}']")
        await expect(item).to_contain_text(XSS)
        assert await portal.evaluate("window.__xss") is None
        await item.locator("button").click()
        await expect(portal.locator("#messages")).to_contain_text("دوباره وای‌فای")
        await expect(portal.locator("#messages")).not_to_contain_text(NOTE)
        words = f"مودم را عوض کردم ولی هنوز قطع می‌شود {uuid.uuid4().hex[:6]}"
        await portal.fill("#reply-body", words)
        await portal.set_input_files(
            "#reply-file",
            files=FilePayload(name="modem.txt", mimeType="text/plain", buffer=b"modem log"),
        )
        await portal.click("#reply-form button[type=submit]")
        await expect(portal.locator("#messages")).to_contain_text(words, timeout=30_000)
        await portal.screenshot(path=shot("portal-reply"), full_page=True)

        # Live in the agent's open ticket, with the file to download.
        await expect(entries).to_have_count(before + 1, timeout=30_000)
        await expect(entries.last).to_contain_text(words)
        await expect(entries.last).to_contain_text("modem.txt")
        # The file downloads with the agent's rights (the token in a header, not the URL).
        async with agent_page.expect_download() as downloading:
            await entries.last.locator(".attachment-download").click()
        download = await downloading.value
        assert download.suggested_filename == "modem.txt"
        saved = artefacts_dir() / "workspace-download.txt"
        await download.save_as(saved)
        assert saved.read_bytes() == b"modem log"
        await agent_page.screenshot(path=shot("agent-live"), full_page=True)


async def test_an_agent_of_another_team_cannot_open_the_ticket(
    browser: Browser, desk: Desk, tickets: Tickets
) -> None:
    second = tickets.second
    outsider = {"Authorization": f"Bearer {desk.token(tickets.outsider)}"}
    async with httpx.AsyncClient(base_url=desk.gateway.url, timeout=20) as client:
        for path in (
            f"/notifier/tickets/{second['ticket_id']}",
            f"/intake/tickets/{second['ticket_id']}",
            f"/intake/customers/{second['customer_id']}",
        ):
            assert (await client.get(path, headers=outsider)).status_code == 404, path
        found = await client.get(
            "/notifier/tickets", params={"q": second["reference"]}, headers=outsider
        )
        assert found.status_code == 200 and found.json() == []
        acted = await client.post(
            f"/intake/tickets/{second['ticket_id']}/notes", json={"body": "x"}, headers=outsider
        )
        assert acted.status_code == 404
    async with fresh_page(browser, 1280, 900) as page:
        await sign_in(page, desk, tickets.outsider, second["ticket_id"])
        await expect(page.locator("#message")).to_be_visible()
        await expect(page.locator("#ticket-subject")).not_to_contain_text(XSS)
        assert await page.locator(f"#rows tr[data-ticket-id='{second['ticket_id']}']").count() == 0
        await page.screenshot(path=shot("other-team"), full_page=True)


async def test_the_customer_rates_a_resolved_ticket_in_the_portal(
    browser: Browser, desk: Desk, tickets: Tickets
) -> None:
    first = tickets.first
    _, agent = await holder(desk, first["ticket_id"])
    async with httpx.AsyncClient(base_url=desk.gateway.url, timeout=20) as client:
        resolved = await client.post(
            f"/intake/tickets/{first['ticket_id']}/resolve",
            json={"reason": "replaced the modem", "resolution_note": "A new modem fixed it."},
            headers={"Authorization": f"Bearer {desk.token(agent)}"},
        )
        assert resolved.status_code == 202, resolved.text
    await eventually(
        lambda: desk.event("survey.offered", ticket_id=first["ticket_id"]),
        timeout=SURVEY_DELAY_SECONDS + 30,
    )
    async with fresh_page(browser, 1024, 900) as portal:
        await enter_portal(portal, desk)
        item = portal.locator(f"#tickets [data-ticket-id='{first['ticket_id']}'] button")

        async def survey_shown() -> bool:
            # Intake records the offer from the insights topic: reopen the ticket until it has.
            await item.click()
            await expect(portal.locator("#ticket-reference")).to_have_text(first["reference"])
            return await portal.locator("#survey").is_visible()

        await eventually(survey_shown, timeout=30, interval=1)
        await portal.fill("#survey-comment", "خیلی سریع بود")
        await portal.locator("#survey-scores button").nth(3).click()
        await expect(portal.locator("#survey")).to_be_hidden()
        await portal.screenshot(path=shot("portal-survey"), full_page=True)
    rated = await eventually(
        lambda: desk.event("ticket.csat_received", ticket_id=first["ticket_id"]), timeout=30
    )
    assert rated["score"] == 4 and rated.get("comment") == "خیلی سریع بود"
