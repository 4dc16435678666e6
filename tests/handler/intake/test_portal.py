"""The customer portal: a one-time link mailed to a known address opens a session; the session
sees its own tickets (a merged record's too) without notes, replies through the contact path
with a file, and every change needs the session's CSRF value. Agents download the file."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx

from services.intake.portal_http import COOKIE, CSRF_HEADER
from shared.events import SurveyOffered
from shared.language import LanguageDetector
from tests.conftest import eventually
from tests.handler.intake.support import Desk, Mailbox, mime, open_desk

PAGE_DIR = Path(__file__).resolve().parents[3] / "services" / "intake" / "portal"
LINK = re.compile(r"https?://\S+/portal/enter\?link=([A-Za-z0-9_-]+)")


async def _mail_ticket(desk: Desk, sender: str, subject: str, body: str) -> dict[str, Any]:
    accepted = await desk.post_mail(mime(sender=sender, subject=subject, body=body))
    assert accepted.status_code == 202, accepted.text
    opened = desk.events("ticket.opened")[-1]
    await desk.route(opened["ticket_id"])
    return opened


async def _link(desk: Desk, email: str) -> str:
    before = len(desk.mail.messages)
    asked = await desk.client.post("/portal/sign-in", json={"email": email})
    assert asked.status_code == 202, asked.text
    await eventually(lambda: len(desk.mail.messages) > before)
    found = LINK.search(desk.mail.messages[-1].get_content())
    assert found, desk.mail.messages[-1].get_content()
    return found.group(1)


async def _session(desk: Desk, email: str) -> dict[str, str]:
    """Headers of a signed-in customer: the session cookie and the CSRF value."""
    token = await _link(desk, email)
    entered = await desk.client.post("/portal/enter", data={"link": token})
    assert entered.status_code == 303, entered.text
    desk.client.cookies.clear()
    cookie = {"Cookie": f"{COOKIE}={entered.cookies[COOKIE]}"}
    me = await desk.client.get("/portal/api/me", headers=cookie)
    assert me.status_code == 200, me.text
    return {**cookie, CSRF_HEADER: me.json()["csrf_token"]}


async def test_a_known_address_gets_a_link_and_an_unknown_one_the_same_answer(desk: Desk) -> None:
    await _mail_ticket(desk, "ana@example.com", "Wifi drops", "Every evening.")
    known = await desk.client.post("/portal/sign-in", json={"email": "Ana@Example.com"})
    (mail,) = await eventually(lambda: desk.mail.messages)
    assert mail["To"] == "ana@example.com" and LINK.search(mail.get_content())
    unknown = await desk.client.post("/portal/sign-in", json={"email": "eve@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert len(desk.mail.messages) == 1


async def test_a_link_opens_one_session_once_behind_a_button(desk: Desk) -> None:
    await _mail_ticket(desk, "ana@example.com", "Wifi drops", "Every evening.")
    token = await _link(desk, "ana@example.com")
    page = await desk.client.get("/portal/enter", params={"link": token})
    assert page.status_code == 200 and 'method="post"' in page.text
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]

    entered = await desk.client.post("/portal/enter", data={"link": token})
    assert entered.status_code == 303 and entered.headers["Location"] == "../portal"
    cookie = entered.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/portal" in cookie
    assert token not in cookie and entered.cookies[COOKIE] not in entered.headers["Location"]

    again = await desk.client.post("/portal/enter", data={"link": token})
    assert again.status_code == 400 and COOKIE not in again.cookies


async def test_a_session_sees_its_tickets_and_a_merged_records_never_another_customers(
    desk: Desk,
) -> None:
    mine = await _mail_ticket(desk, "ana@example.com", "Wifi drops", "Every evening.")
    chat = {"channel": "chat", "chat_user_id": "w-9", "conversation_id": "cv-9"}
    await desk.contact({**chat, "text": "Still no internet"}, contact_id="chat-1")
    by_chat = desk.events("ticket.opened")[-1]
    await desk.contact(
        {**chat, "conversation_id": "cv-10", "email": "ana@example.com", "text": "Hello?"},
        contact_id="chat-2",
    )
    theirs = await _mail_ticket(desk, "bob@example.com", "<b>Bob's</b> printer", "Jammed.")

    headers = await _session(desk, "ana@example.com")
    listed = await desk.client.get("/portal/api/tickets", headers=headers)
    assert listed.status_code == 200, listed.text
    ids = {t["ticket_id"] for t in listed.json()}
    assert {mine["ticket_id"], by_chat["ticket_id"]} <= ids and theirs["ticket_id"] not in ids
    other = await desk.client.get(f"/portal/api/tickets/{theirs['ticket_id']}", headers=headers)
    missing = await desk.client.get("/portal/api/tickets/t-nothing", headers=headers)
    assert other.status_code == missing.status_code == 404
    assert other.json()["detail"].replace(theirs["ticket_id"], "x") == missing.json()[
        "detail"
    ].replace("t-nothing", "x")

    bob = await _session(desk, "bob@example.com")
    seen = await desk.client.get("/portal/api/tickets", headers=bob)
    assert seen.headers["Content-Type"].startswith("application/json")
    assert seen.json()[0]["subject"] == "<b>Bob's</b> printer"


async def test_the_conversation_shows_replies_by_name_and_never_notes(desk: Desk) -> None:
    opened = await _mail_ticket(desk, "ana@example.com", "Wifi drops", "Every evening.")
    ticket_id = opened["ticket_id"]
    assert (await desk.act("ag-nika", ticket_id, "reply", {"body": "Restart it"})).status_code
    assert (
        await desk.act("lead-technical", ticket_id, "notes", {"body": "SECRET NOTE"})
    ).status_code == 202
    headers = await _session(desk, "ana@example.com")
    shown = await desk.client.get(f"/portal/api/tickets/{ticket_id}", headers=headers)
    assert shown.status_code == 200, shown.text
    assert "SECRET NOTE" not in shown.text and "ag-nika" not in shown.text
    assert "ticket.routed" not in shown.text
    authors = [(m["author"], m["body"]) for m in shown.json()["messages"]]
    assert authors == [("customer", "Every evening."), ("agent", "Restart it")]
    assert shown.json()["messages"][1]["name"] not in (None, "")


async def test_a_reply_needs_the_csrf_header_and_threads_in_with_its_file(desk: Desk) -> None:
    opened = await _mail_ticket(desk, "ana@example.com", "Wifi drops", "Every evening.")
    ticket_id = opened["ticket_id"]
    headers = await _session(desk, "ana@example.com")
    files = {"file": ("notes.html", b"<script>alert(1)</script>", "text/html")}
    path = f"/portal/api/tickets/{ticket_id}/reply"

    no_csrf = {k: v for k, v in headers.items() if k != CSRF_HEADER}
    refused = await desk.client.post(path, data={"body": "More"}, files=files, headers=no_csrf)
    assert refused.status_code == 403 and CSRF_HEADER in refused.json()["detail"]
    wrong = {**no_csrf, CSRF_HEADER: "guess"}
    assert (await desk.client.post(path, data={"body": "x"}, headers=wrong)).status_code == 403
    assert desk.events("ticket.contact_appended") == []

    log = {"body": "Here is the log"}
    sent = await desk.client.post(path, data=log, files=files, headers=headers)
    assert sent.status_code == 202, sent.text
    (appended,) = await eventually(lambda: desk.events("ticket.contact_appended", ticket_id))
    assert appended["contact_id"] == sent.json()["contact_id"]
    assert appended["body"] == "Here is the log"
    (attachment,) = appended["attachments"]
    assert attachment["filename"] == "notes.html" and attachment["stored_id"]

    url = f"/tickets/{ticket_id}/attachments/{attachment['stored_id']}"
    download = await desk.client.get(url, headers=desk.token("lead-technical"))
    assert download.status_code == 200 and download.content == b"<script>alert(1)</script>"
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert download.headers["Content-Disposition"] == "attachment; filename*=UTF-8''notes.html"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Cache-Control"] == "no-store"
    assert download.headers["Content-Security-Policy"] == "sandbox"
    other_team = await desk.client.get(url, headers=desk.token("ag-john"))
    assert other_team.status_code == 404
    elsewhere = await desk.client.get(
        f"/tickets/{ticket_id}/attachments/0123456789abcdef01234567",
        headers=desk.token("lead-technical"),
    )
    assert elsewhere.status_code == 404


async def test_signing_out_ends_the_session(desk: Desk) -> None:
    await _mail_ticket(desk, "ana@example.com", "Wifi drops", "Every evening.")
    headers = await _session(desk, "ana@example.com")
    assert (await desk.client.post("/portal/sign-out", headers=headers)).status_code == 200
    assert (await desk.client.get("/portal/api/me", headers=headers)).status_code == 401


async def test_the_page_has_a_strict_csp_and_never_writes_markup(desk: Desk) -> None:
    page = await desk.client.get("/portal")
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    for rule in ("default-src 'self'", "script-src 'self'", "style-src 'self'"):
        assert rule in csp
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert "<script>" not in page.text and "style=" not in page.text
    script = (PAGE_DIR / "portal.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink
    js = await desk.client.get("/portal/static/portal.js")
    assert js.status_code == 200 and js.text == script


def test_the_pages_urls_resolve_under_the_gateways_prefix_and_without_it() -> None:
    """The page's relative URLs, resolved as the browser does against the page's address."""
    html = (PAGE_DIR / "index.html").read_text()
    script = (PAGE_DIR / "portal.js").read_text()
    assert 'src="portal/static/portal.js"' in html and 'href="portal/static/portal.css"' in html
    assert 'new URL("portal/api/" + path, document.baseURI)' in script
    assert 'new URL("../kb/" + path, document.baseURI)' in script
    for page, api, kb in [
        ("http://h/portal", "http://h/portal/api/me", "http://h/kb/articles/search"),
        (
            "http://h/intake/portal",
            "http://h/intake/portal/api/me",
            "http://h/kb/articles/search",
        ),
    ]:
        assert str(httpx.URL(page).join("portal/api/me")) == api
        assert str(httpx.URL(page).join("../kb/articles/search")) == kb
        assert str(httpx.URL(page).join("portal/static/portal.js")).startswith(page + "/static/")


async def test_a_resolved_tickets_survey_is_answered_through_its_own_link(
    make_settings: Any, detector: LanguageDetector, customer_mail: tuple[Mailbox, int]
) -> None:
    posted: list[httpx.Request] = []

    def insights(request: httpx.Request) -> httpx.Response:
        posted.append(request)
        return httpx.Response(200, text="<p>Thank you</p>")

    transport = httpx.MockTransport(insights)
    async with open_desk(
        make_settings, detector, customer_mail, survey_transport=transport
    ) as desk:
        opened = await _mail_ticket(desk, "ana@example.com", "Wifi drops", "Every evening.")
        ticket_id = opened["ticket_id"]
        headers = await _session(desk, "ana@example.com")
        path = f"/portal/api/tickets/{ticket_id}/survey"
        early = await desk.client.post(path, json={"score": 5}, headers=headers)
        assert early.status_code == 409, early.text

        resolved = await desk.act("ag-nika", ticket_id, "resolve", {"reason": "fixed"})
        assert resolved.status_code == 202, resolved.text
        offer = SurveyOffered(
            ticket_id=ticket_id,
            reference=opened["reference"],
            customer_id=opened["customer_id"],
            channel="email",
            language="en",
            link="https://help.example/insights/survey/t0k3n",
            expires_at=datetime.now(UTC) + timedelta(days=14),
        )
        await desk.broker.publish(offer.model_dump(mode="json"), desk.settings.topics.insights)
        shown = await desk.client.get(f"/portal/api/tickets/{ticket_id}", headers=headers)
        assert shown.json()["survey"]["link"] == offer.link

        no_csrf = {k: v for k, v in headers.items() if k != CSRF_HEADER}
        refused = await desk.client.post(path, json={"score": 4}, headers=no_csrf)
        assert refused.status_code == 403 and posted == []
        answer = {"score": 4, "comment": "Quick, thanks"}
        answered = await desk.client.post(path, json=answer, headers=headers)
        assert answered.status_code == 200, answered.text
        (sent,) = posted
        assert str(sent.url) == offer.link and sent.method == "POST"
        assert parse_qs(sent.content.decode()) == {"score": ["4"], "comment": ["Quick, thanks"]}
