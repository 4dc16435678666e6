"""Every route of every service answers by the access rule it states (`x-access`): no credentials
401 (public routes: 2xx; adapters' routes unsigned, links' forged: 401), another team's person
403, or 404 where even existence must not leak, a person without the role 403, the right person
2xx. A route served without a row in the tables below, or without a rule, fails."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.insights.app import build_app as build_insights
from services.insights.domain.surveys import Survey
from services.insights.service import SURVEY_ISSUER
from services.insights.settings import InsightsSettings
from services.insights.store import MongoInsightsStore
from services.intake.app import build_app as build_intake
from services.intake.settings import IntakeSettings
from services.kb.app import build_app as build_kb
from services.kb.settings import KbSettings
from services.notifier.app import build_app as build_notifier
from services.notifier.settings import NotifierSettings
from services.router.app import build_app as build_router
from services.router.settings import RouterSettings
from services.sla.app import build_app as build_sla
from services.sla.settings import SlaSettings
from shared.access import Rule
from shared.agent_tokens import TokenKeys
from shared.events import (
    Event,
    KbDeflected,
    SlaBreached,
    TicketAssigned,
    TicketOpened,
    TicketRouted,
)
from shared.ids import derived_id, ticket_id_for_contact
from shared.language import LanguageDetector
from shared.mongo import make_mongo_client
from shared.runtime import Service
from shared.settings import ServiceSettings
from tests.handler.route_access_support import (
    ADAPTER_SECRET,
    CUSTOMER,
    FORGED_SESSION,
    FORGED_SIGNATURE,
    NO_CSRF,
    STRANGER,
    TOKEN_SECRET,
    Outcome,
    Row,
    Seeds,
    bearer,
    capture,
    coverage,
    documented_answers,
    order,
    portal_attachment,
    portal_grants,
    portal_reply,
    served_routes,
    started,
    table,
    try_row,
)

PUBLIC, STAFF, HEADS, OPERATOR, REPORTS, MANAGER, ADAPTER, LINK = (
    Rule.PUBLIC,
    Rule.STAFF,
    Rule.HEADS,
    Rule.OPERATOR,
    Rule.REPORTS,
    Rule.MANAGER,
    Rule.ADAPTER,
    Rule.LINK,
)
#: People of config/teams.yaml: agents of technical and of accounts, technical's lead, the
#: managers of both, the operator.
NIKA, MARIA, JOHN = "ag-nika", "ag-maria", "ag-john"
LEAD, MANAGER_T, MANAGER_A, OPS = "lead-technical", "mgr-technical", "mgr-accounts", "ops-rin"
#: A chat tool's address that is public (never called: no delivery worker runs here).
WEBHOOK_URL = "https://93.184.215.14/hooks/route-access"

#: Health and metrics, which `Service.seal` adds to every service.
HEALTH = {
    "GET /health/live": Row(PUBLIC, 200),
    "GET /health/ready": Row(PUBLIC, 200),
    "GET /metrics": Row(OPERATOR, 200, OPS, ((NIKA, 403), (MANAGER_T, 403))),
}


def _mime() -> bytes:
    message = EmailMessage()
    message["From"] = "route.access@example.com"
    message["To"] = "support@helpdesk.example"
    message["Subject"] = "The wifi drops every evening"
    message["Message-ID"] = "<route-access@mail.example>"
    message.set_content("Since Monday the wifi in the office drops every evening.")
    return message.as_bytes()


def _act(ticket: str, body: dict[str, Any], *, last: bool = False) -> Row:
    """An agent's action on a technical ticket: another team's agent is told it does not exist."""
    return Row(STAFF, 202, NIKA, ((JOHN, 404),), {"ticket_id": ticket}, json=body, last=last)


def _customer(params: dict[str, Any] | None = None, **kw: Any) -> Row:
    """A customer-portal route: the session's customer; a person's token opens nothing."""
    others = kw.pop("others", ((FORGED_SESSION, 401), (NIKA, 401)))
    return Row(LINK, kw.pop("ok", 200), CUSTOMER, others, params or {}, session=True, **kw)


_REPLY, _REPLY_TYPE = portal_reply()

INTAKE: dict[str, Row] = {
    **HEALTH,
    "POST /contacts": Row(
        ADAPTER,
        202,
        "gateway",
        ((FORGED_SIGNATURE, 401),),
        json={
            "contact_id": "c-route-access-adapter",
            "message": {
                "channel": "chat",
                "chat_user_id": "w-adapter",
                "conversation_id": "cv-adapter",
                "text": "The router reboots every hour",
            },
        },
    ),
    "POST /contacts/email": Row(
        ADAPTER,
        202,
        "gateway",
        ((FORGED_SIGNATURE, 401),),
        content=_mime(),
        content_type="message/rfc822",
    ),
    "GET /tickets/{ticket_id}": Row(STAFF, 200, NIKA, ((JOHN, 404),), {"ticket_id": "@ticket"}),
    "GET /customers/{customer_id}": Row(
        STAFF, 200, NIKA, ((JOHN, 404),), {"customer_id": "@customer"}
    ),
    "GET /reports/calls": Row(OPERATOR, 200, OPS, ((NIKA, 403), (LEAD, 403))),
    "POST /tickets/{ticket_id}/reply": _act("@ticket", {"body": "Looking into it"}),
    "POST /tickets/{ticket_id}/notes": _act("@ticket", {"body": "Asked for the model"}),
    "POST /tickets/{ticket_id}/priority": _act(
        "@ticket", {"priority": "P2", "reason": "the whole office"}
    ),
    "POST /tickets/{ticket_id}/escalate": _act(
        "@ticket", {"reason": "needs a network engineer", "to_tier": "L2"}
    ),
    "POST /tickets/{ticket_id}/transfer": _act(
        "@ticket", {"to_team": "accounts", "reason": "it is billing"}
    ),
    "POST /tickets/{ticket_id}/pending": _act("@pending", {"reason": "asked"}, last=True),
    "POST /tickets/{ticket_id}/on-hold": _act("@on_hold", {"reason": "vendor"}, last=True),
    "POST /tickets/{ticket_id}/resolve": _act("@resolve", {"reason": "fixed"}, last=True),
    "POST /tickets/{ticket_id}/reopen": _act("@reopen", {"reason": "not fixed"}, last=True),
    "POST /customers/{customer_id}/erase": Row(
        MANAGER,
        202,
        MANAGER_T,
        ((NIKA, 403), (LEAD, 403)),
        {"customer_id": "@erased_customer"},
        last=True,
    ),
    "GET /tickets/{ticket_id}/attachments/{stored_id}": Row(
        STAFF, 200, NIKA, ((JOHN, 404),), {"ticket_id": "@ticket", "stored_id": "@stored"}
    ),
    "GET /portal": Row(PUBLIC, 200),
    "GET /portal/static/{name}": Row(PUBLIC, 200, params={"name": "portal.js"}),
    "POST /portal/sign-in": Row(PUBLIC, 202, json={"email": "nobody@example.com"}),
    "GET /portal/enter": Row(PUBLIC, 200, query={"link": "a-link"}),
    "POST /portal/enter": Row(
        PUBLIC,
        303,
        content=lambda seeds: f"link={seeds['portal_link']}".encode(),
        content_type="application/x-www-form-urlencoded",
    ),
    "GET /portal/api/me": _customer(),
    "GET /portal/api/tickets": _customer(),
    "GET /portal/api/tickets/{ticket_id}": _customer({"ticket_id": "@ticket"}),
    "POST /portal/api/tickets/{ticket_id}/reply": _customer(
        {"ticket_id": "@ticket"},
        ok=202,
        others=((NO_CSRF, 403), (FORGED_SESSION, 401), (NIKA, 401)),
        content=_REPLY,
        content_type=_REPLY_TYPE,
    ),
    # The seed's ticket is open, so the customer gets past the access checks to "no survey".
    "POST /portal/api/tickets/{ticket_id}/survey": _customer(
        {"ticket_id": "@ticket"}, ok=409, others=((NO_CSRF, 403), (NIKA, 401)), json={"score": 5}
    ),
    "POST /portal/sign-out": _customer(others=((NO_CSRF, 403),), last=True),
}

ROUTER: dict[str, Row] = {
    **HEALTH,
    "GET /queues/{team}": Row(STAFF, 200, NIKA, ((JOHN, 403),), {"team": "technical"}),
    "GET /agents": Row(REPORTS, 200, OPS, ((NIKA, 403),)),
    "GET /agents/{agent_id}/tickets": Row(
        STAFF, 200, NIKA, ((MARIA, 403), (JOHN, 403)), {"agent_id": NIKA}
    ),
    "GET /tickets/{ticket_id}/routing": Row(
        STAFF, 200, NIKA, ((JOHN, 404),), {"ticket_id": "@ticket"}
    ),
    "GET /reports/transfers": Row(REPORTS, 200, LEAD, ((NIKA, 403),)),
    "PUT /agents/{agent_id}/presence": Row(
        STAFF,
        202,
        LEAD,
        ((MARIA, 403), (JOHN, 403)),
        {"agent_id": NIKA},
        json={"presence": "online"},
        last=True,
    ),
}

SLA: dict[str, Row] = {
    **HEALTH,
    "GET /tickets/{ticket_id}/sla": Row(STAFF, 200, NIKA, ((JOHN, 404),), {"ticket_id": "@ticket"}),
    "GET /compliance": Row(
        REPORTS, 200, LEAD, ((NIKA, 403), (MANAGER_A, 403)), query={"team": "technical"}
    ),
}

_REPORT_QUERIES: dict[str, dict[str, Any]] = {
    "figures": {},
    "figures.csv": {},
    "tickets": {"transfers_at_least": 0},
    "tickets.csv": {},
    "categories": {"month": "2026-11"},
    "categories.csv": {"month": "2026-11"},
    "load": {"step": "day"},
}
INSIGHTS: dict[str, Row] = {
    **HEALTH,
    **{
        f"GET /reports/{name}": Row(
            REPORTS, 200, LEAD, ((NIKA, 403), (MANAGER_A, 403)), query={"team": "technical", **q}
        )
        for name, q in _REPORT_QUERIES.items()
    },
    "GET /reports/charts/{name}.svg": Row(
        REPORTS,
        200,
        LEAD,
        ((NIKA, 403), (MANAGER_A, 403)),
        {"name": "sla"},
        query={"team": "technical"},
    ),
    "GET /survey/{token}": Row(LINK, 200, others=((NIKA, 401),), params={"token": "@survey"}),
    "POST /survey/{token}": Row(
        LINK,
        200,
        others=((NIKA, 401),),
        params={"token": "@survey"},
        content=b"score=4&comment=quick",
        content_type="application/x-www-form-urlencoded",
    ),
    "GET /reports/page": Row(PUBLIC, 200),
    "GET /reports/page/static/{name}": Row(PUBLIC, 200, params={"name": "reports.js"}),
}

NOTIFIER: dict[str, Row] = {
    **HEALTH,
    "GET /console": Row(PUBLIC, 200),
    "GET /console/static/{name}": Row(PUBLIC, 200, params={"name": "console.js"}),
    "GET /me": Row(STAFF, 200, NIKA, ((STRANGER, 401),)),
    "GET /board": Row(STAFF, 200, NIKA, ((STRANGER, 401),)),
    "GET /tickets": Row(STAFF, 200, NIKA, ((STRANGER, 401),), query={"q": "wifi"}),
    "GET /tickets/{ticket_id}": Row(
        STAFF, 200, NIKA, ((JOHN, 404), (STRANGER, 401)), {"ticket_id": "@ticket"}
    ),
    "POST /live-session": Row(STAFF, 204, NIKA, ((STRANGER, 401),)),
    "DELETE /live-session": Row(PUBLIC, 204),
    "GET /events": Row(STAFF, 200, NIKA, ((STRANGER, 401),), kind="stream"),
    "WEBSOCKET /ws": Row(STAFF, 101, NIKA, ((STRANGER, 401),), kind="websocket"),
    "GET /deliveries": Row(OPERATOR, 200, OPS, ((NIKA, 403), (LEAD, 403))),
    "GET /webhooks": Row(HEADS, 200, LEAD, ((NIKA, 403), (OPS, 403))),
    "POST /webhooks": Row(
        HEADS,
        201,
        LEAD,
        ((NIKA, 403), (MANAGER_A, 403)),
        json={"name": "route-access-room", "url": WEBHOOK_URL, "teams": ["technical"]},
    ),
    "DELETE /webhooks/{name}": Row(
        HEADS, 204, LEAD, ((NIKA, 403), (MANAGER_A, 404)), {"name": "route-access-gone"}, last=True
    ),
    "POST /escalations/{escalation_id}/acknowledge": Row(
        STAFF,
        200,
        NIKA,
        ((JOHN, 404), (MARIA, 403)),
        {"escalation_id": "@escalation"},
        last=True,
    ),
}


def _publisher(slug: str) -> Row:
    """A move only a lead, a manager or a listed editor makes; an agent is refused."""
    return Row(STAFF, 200, LEAD, ((NIKA, 403),), {"article_id": slug}, last=True)


KB: dict[str, Row] = {
    **HEALTH,
    "GET /articles/search": Row(PUBLIC, 200, query={"q": "wifi drops"}),
    "GET /articles/{article_id}": Row(PUBLIC, 200, params={"article_id": "wifi-drops"}),
    "POST /articles/{article_id}/feedback": Row(
        PUBLIC, 202, params={"article_id": "wifi-drops"}, json={"helpful": True}
    ),
    "GET /self-help/{token}": Row(LINK, 200, others=((NIKA, 401),), params={"token": "@view"}),
    "POST /self-help/{token}/solved": Row(
        LINK,
        200,
        others=((NIKA, 401),),
        params={"token": "@solved"},
        json={"article_id": "password-reset"},
        last=True,
    ),
    "POST /self-help/{token}": Row(
        LINK,
        200,
        others=((NIKA, 401),),
        params={"token": "@form"},
        content=b"article_id=password-reset",
        content_type="application/x-www-form-urlencoded",
        last=True,
    ),
    "POST /editor/articles": Row(
        STAFF,
        201,
        NIKA,
        ((STRANGER, 401),),
        json={
            "article_id": "route-access-new",
            "translations": {"en": {"title": "Modem lights", "body": "Blinking means sync."}},
        },
    ),
    "GET /editor/articles": Row(STAFF, 200, NIKA, ((STRANGER, 401),)),
    "GET /editor/articles/{article_id}": Row(
        STAFF, 200, NIKA, ((STRANGER, 401),), {"article_id": "wifi-drops"}
    ),
    "GET /editor/articles/{article_id}/versions": Row(
        STAFF, 200, NIKA, ((STRANGER, 401),), {"article_id": "wifi-drops"}
    ),
    "PATCH /editor/articles/{article_id}": Row(
        STAFF,
        200,
        LEAD,
        ((NIKA, 403),),
        {"article_id": "route-access-edit"},
        json=lambda seeds: {"version": seeds["edit_version"], "tags": ["route-access"]},
    ),
    "POST /editor/articles/{article_id}/publish": _publisher("route-access-publish"),
    "POST /editor/articles/{article_id}/archive": _publisher("route-access-archive"),
    "POST /editor/articles/{article_id}/unpublish": _publisher("route-access-unpublish"),
    "GET /canned": Row(STAFF, 200, NIKA, ((STRANGER, 401),)),
    "PUT /canned/{canned_id}": Row(
        STAFF,
        200,
        LEAD,
        ((NIKA, 403),),
        {"canned_id": "route-access-canned"},
        json={"canned_id": "route-access-canned", "title": "Hello", "texts": {"en": "Hello"}},
    ),
    "POST /canned/{canned_id}/fill": Row(
        STAFF,
        200,
        NIKA,
        ((STRANGER, 401),),
        {"canned_id": "password-reset-link"},
        json={
            "language": "en",
            "values": {
                "customer_name": "Ana",
                "agent_name": "Nika",
                "reference": "HD-AAAAAA",
                "article_link": "https://help.example/kb/articles/password-reset",
            },
        },
    ),
    "DELETE /canned/{canned_id}": Row(
        STAFF, 204, LEAD, ((NIKA, 403),), {"canned_id": "route-access-gone"}, last=True
    ),
    "GET /reports/queries": Row(REPORTS, 200, OPS, ((NIKA, 403),)),
    "GET /reports/no-results": Row(REPORTS, 200, LEAD, ((NIKA, 403),)),
    "GET /reports/articles": Row(REPORTS, 200, MANAGER_A, ((NIKA, 403),)),
}


# -- seeding: what the routes need, sent as the services receive it ------------------------------


async def _send(broker: Any, topic: str, event: Event) -> None:
    await broker.publish(event.model_dump(mode="json"), topic, key=event.kafka_key())


def _opened(ticket_id: str, subject: str, body: str = "") -> TicketOpened:
    return TicketOpened(
        ticket_id=ticket_id,
        reference="HD-AAAAAA",
        contact_id=f"c-{ticket_id}",
        customer_id=f"cu-{ticket_id}",
        channel="email",
        subject=subject,
        body=body or subject,
    )


def _routed(ticket_id: str, team: str = "technical", **kw: Any) -> TicketRouted:
    fields: dict[str, Any] = {
        "category": "network",
        "impact": "low",
        "urgency": "medium",
        "priority": "P3",
        "tier": "L1",
        "reason": "route-access seed",
        **kw,
    }
    return TicketRouted(ticket_id=ticket_id, team=team, **fields)


def _assigned(ticket_id: str) -> TicketAssigned:
    return TicketAssigned(ticket_id=ticket_id, agent_id=NIKA, team="technical", reason="seed")


async def _technical_ticket(broker: Any, settings: ServiceSettings, ticket_id: str) -> None:
    """A ticket of technical assigned to ag-nika: routed, then assigned, as the router says."""
    await _send(broker, settings.topics.routing, _routed(ticket_id))
    await _send(broker, settings.topics.routing, _assigned(ticket_id))


Seed = Callable[[Any, httpx.AsyncClient, ServiceSettings, list[dict[str, Any]]], Awaitable[Seeds]]


async def seed_intake(
    broker: Any, client: httpx.AsyncClient, settings: ServiceSettings, seen: list[dict[str, Any]]
) -> Seeds:
    """Chat contacts open technical tickets: one to read and act on, one per status change
    (the one to reopen resolved by a self-help deflection), and one of a customer to erase."""
    seeds: Seeds = {}
    for name, user in [
        ("ticket", "w-route-access"),
        ("pending", "w-route-access"),
        ("on_hold", "w-route-access"),
        ("resolve", "w-route-access"),
        ("reopen", "w-route-access"),
        ("erased", "w-route-access-erased"),
    ]:
        contact_id = f"c-route-access-{name}"
        message = {
            "channel": "chat",
            "chat_user_id": user,
            "conversation_id": f"cv-{name}",
            "text": "The wifi in our office drops every hour",
        }
        body = {
            "event_type": "contact.received",
            "event_id": str(uuid.uuid4()),
            "contact_id": contact_id,
            "message": message,
        }
        await broker.publish(body, settings.topics.contacts)
        seeds[name] = ticket_id_for_contact(contact_id)
        await _technical_ticket(broker, settings, seeds[name])
    deflected = KbDeflected(ticket_id=seeds["reopen"], article_id="wifi-drops")
    await _send(broker, settings.topics.kb, deflected)
    customers = {
        e["ticket_id"]: e["customer_id"] for e in seen if e["event_type"] == "ticket.opened"
    }
    seeds["customer"] = customers[seeds["ticket"]]
    seeds["erased_customer"] = customers[seeds["erased"]]
    email = "route.access@example.com"
    seeds.update(await portal_grants(client, settings, seeds["customer"], email))
    seeds["stored"] = await portal_attachment(client, seeds, seeds["ticket"], seen)
    return seeds


async def seed_router(
    broker: Any, client: httpx.AsyncClient, settings: ServiceSettings, seen: list[dict[str, Any]]
) -> Seeds:
    """A new ticket about the office wifi, which the router routes to technical."""
    ticket_id = "t-route-access"
    wifi = "The wifi in our office keeps dropping, the router reboots every hour"
    await _send(broker, settings.topics.tickets, _opened(ticket_id, wifi))
    teams = [e.get("team") for e in seen if e["event_type"] == "ticket.routed"]
    assert teams == ["technical"], f"the seed ticket was not routed to technical: {seen}"
    return {"ticket": ticket_id}


async def seed_sla(
    broker: Any, client: httpx.AsyncClient, settings: ServiceSettings, seen: list[dict[str, Any]]
) -> Seeds:
    """A technical ticket assigned to ag-nika, whose clocks start."""
    ticket_id = "t-route-access"
    await _send(broker, settings.topics.tickets, _opened(ticket_id, "Wifi drops"))
    await _technical_ticket(broker, settings, ticket_id)
    return {"ticket": ticket_id}


async def seed_insights(
    broker: Any, client: httpx.AsyncClient, settings: ServiceSettings, seen: list[dict[str, Any]]
) -> Seeds:
    """A technical ticket, so the reports have a fact to show, and its survey offered (written
    as the timer would have, a day after its resolution) with the link's token."""
    ticket_id = "t-route-access"
    await _send(broker, settings.topics.tickets, _opened(ticket_id, "Wifi drops"))
    await _technical_ticket(broker, settings, ticket_id)
    now = datetime.now(UTC)
    survey = Survey(ticket_id=ticket_id, offered_at=now, expires_at=now + timedelta(days=14))
    mongo = make_mongo_client(settings.mongo)
    try:
        await MongoInsightsStore(mongo[settings.database_name]).offer_surveys([survey])
    finally:
        await mongo.close()
    keys = TokenKeys(TOKEN_SECRET, issuer=SURVEY_ISSUER)
    return {"ticket": ticket_id, "survey": keys.issue(ticket_id, ttl=timedelta(days=1), now=now)}


async def seed_notifier(
    broker: Any, client: httpx.AsyncClient, settings: ServiceSettings, seen: list[dict[str, Any]]
) -> Seeds:
    """A technical ticket of ag-nika on the board, its first response breached (an escalation
    told to ag-nika), and a webhook of technical's lead to delete."""
    ticket_id = "t-route-access"
    await _send(broker, settings.topics.tickets, _opened(ticket_id, "Wifi drops"))
    await _technical_ticket(broker, settings, ticket_id)
    now = datetime.now(UTC)
    breach = SlaBreached(
        ticket_id=ticket_id,
        metric="first_response",
        team="technical",
        assignee_id=NIKA,
        priority="P3",
        due_at=now - timedelta(seconds=1),
        occurred_at=now,
        late_by_seconds=1.0,
    )
    await _send(broker, settings.topics.sla, breach)
    room = {"name": "route-access-gone", "url": WEBHOOK_URL, "teams": ["technical"]}
    registered = await client.post("/webhooks", json=room, headers=bearer(LEAD))
    assert registered.status_code == 201, registered.text
    return {"ticket": ticket_id, "escalation": str(derived_id(breach.event_id, "escalation"))}


async def seed_kb(
    broker: Any, client: httpx.AsyncClient, settings: ServiceSettings, seen: list[dict[str, Any]]
) -> Seeds:
    """Password tickets, each offered self-help (a link per route that opens one); articles
    of technical's lead in the states the editors' moves start from; a canned answer to
    delete. The configured articles (wifi-drops, password-reset) are seeded at start."""
    seeds: Seeds = {}
    for name in ("view", "solved", "form"):
        ticket_id = f"t-route-access-{name}"
        text = "Forgot my password. How do I reset my password? I cannot sign in"
        await _send(broker, settings.topics.tickets, _opened(ticket_id, text))
        routed = _routed(ticket_id, "accounts", category="account", subcategory="password")
        await _send(broker, settings.topics.routing, routed)
        links = [
            e["link"]
            for e in seen
            if e["event_type"] == "kb.self_help_offered" and e["ticket_id"] == ticket_id
        ]
        assert links, f"no self-help offered for {ticket_id}"
        seeds[name] = links[0].rsplit("/", 1)[1]
    lead = bearer(LEAD)
    for slug, published in [
        ("route-access-publish", False),
        ("route-access-archive", True),
        ("route-access-unpublish", True),
        ("route-access-edit", True),
    ]:
        article = {
            "article_id": slug,
            "category": "network",
            "translations": {"en": {"title": f"Article {slug}", "body": "Restart the modem."}},
        }
        made = await client.post("/editor/articles", json=article, headers=lead)
        assert made.status_code == 201, made.text
        if published:
            moved = await client.post(f"/editor/articles/{slug}/publish", headers=lead)
            assert moved.status_code == 200, moved.text
    edit = await client.get("/editor/articles/route-access-edit", headers=lead)
    seeds["edit_version"] = edit.json()["version"]
    canned = {"canned_id": "route-access-gone", "title": "Bye", "texts": {"en": "Bye"}}
    put = await client.put("/canned/route-access-gone", json=canned, headers=lead)
    assert put.status_code == 200, put.text
    return seeds


# -- the services ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Desk:
    """How to build one service for this test, what to seed it with, and its table."""

    build: Callable[..., Service]
    settings: type[ServiceSettings]
    rows: Mapping[str, Row]
    seed: Seed
    #: Topics (settings.topics attributes) whose events the seed reads.
    watch: tuple[str, ...] = ()
    overrides: Mapping[str, Any] = field(default_factory=dict)
    detector: bool = False


DESKS: dict[str, Desk] = {
    "intake": Desk(
        build_intake,
        IntakeSettings,
        INTAKE,
        seed_intake,
        watch=("tickets",),
        overrides={"adapter_secrets": {"gateway": ADAPTER_SECRET}},
        detector=True,
    ),
    "router": Desk(build_router, RouterSettings, ROUTER, seed_router, watch=("routing",)),
    "sla": Desk(build_sla, SlaSettings, SLA, seed_sla),
    "notifier": Desk(build_notifier, NotifierSettings, NOTIFIER, seed_notifier),
    "insights": Desk(build_insights, InsightsSettings, INSIGHTS, seed_insights),
    "kb": Desk(
        build_kb,
        KbSettings,
        KB,
        seed_kb,
        watch=("kb",),
        overrides={"public_url": "https://help.example/kb"},
        detector=True,
    ),
}


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    """Built once for intake and kb: its language models take a while to load."""
    return LanguageDetector(("en", "fa", "ru", "el"))


@pytest.mark.parametrize("name", list(DESKS))
async def test_every_route_answers_by_the_rule_it_states(
    name: str, make_settings: Any, detector: LanguageDetector
) -> None:
    desk = DESKS[name]
    settings = make_settings(desk.settings, agent_token_secret=TOKEN_SECRET, **desk.overrides)
    service = desk.build(settings, **({"detector": detector} if desk.detector else {}))
    outcomes: list[Outcome] = coverage(served_routes(service.http), desk.rows)
    documented = documented_answers(service.http)
    untried = {o.route for o in outcomes}
    seen = capture(service, [getattr(settings.topics, topic) for topic in desk.watch])
    async with started(service) as (broker, client):
        seeds = await desk.seed(broker, client, settings, seen)
        for route in [r for r in order(desk.rows) if r not in untried]:
            row, answers = desk.rows[route], documented.get(route)
            outcomes.append(await try_row(route, row, seeds, service.http, client, answers))
    report = table(name, outcomes)
    print(report)
    failed = [o for o in outcomes if not o.held]
    if failed:
        pytest.fail(f"{len(failed)} route(s) against the access model:\n{report}", pytrace=False)


async def test_a_route_added_without_a_rule_or_a_row_is_caught(make_settings: Any) -> None:
    service = build_sla(make_settings(SlaSettings, agent_token_secret=TOKEN_SECRET))
    app: FastAPI = service.http

    @app.get("/added-later")
    async def added_later() -> dict[str, str]:
        return {}

    app.openapi_schema = None
    found = {o.route: o.problem for o in coverage(served_routes(app), SLA)}
    assert found == {"GET /added-later": "states no access rule (no x-access)"}
    without_row = {k: v for k, v in SLA.items() if k != "GET /compliance"}
    found = {o.route: o.problem for o in coverage(served_routes(app), without_row)}
    assert found["GET /compliance"] == "no row in the access table"
    await service.mongo.close()
