"""The machinery of `test_route_access`: a row of the access table, the callers each rule is
tried with, the routes a service serves with the rule each states, and the table printed when
a route answers against the model."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from faststream.kafka import TestKafkaBroker

from services.intake.auth import sign_request
from services.intake.portal_http import COOKIE, CSRF_HEADER
from services.intake.portal_store import MongoPortalStore
from services.kb.service import SELF_HELP_ISSUER
from shared.access import Rule, rule_of
from shared.agent_tokens import TokenKeys
from shared.mongo import make_mongo_client
from shared.runtime import Service
from shared.settings import ServiceSettings

TOKEN_SECRET = "route-access-test-secret-of-at-least-32-bytes"
ADAPTER_SECRET = "route-access-gateway-secret-0123456789"
#: Signs tokens, links and contacts nobody here accepts.
FORGER_SECRET = "a-forger-s-secret-nobody-here-trusts-0123456789"
#: In `Row.others` of an adapter's route: a contact signed with the forger's secret.
FORGED_SIGNATURE = "forged signature"
#: Somebody with a valid token whom the directory does not know.
STRANGER = "nobody-in-teams-yaml"
#: The right caller of a link's route: the link kb signed (the row's `token` parameter).
LINK = "link"
#: The right caller of a customer-session route (`Row(session=True)`, the portal): the session
#: cookie and its CSRF value (the seeds `portal_cookie` and `portal_csrf`).
CUSTOMER = "customer session"
#: In `Row.others` of a session route: the session's cookie without its CSRF value.
NO_CSRF = "session without csrf"
#: In `Row.others` of a session route: a cookie that names no session.
FORGED_SESSION = "forged session"

Seeds = dict[str, Any]
#: A value of a row: given as is, "@name" for the seed of that name, or a function of the seeds.
Value = Any
Kind = Literal["http", "stream", "websocket"]
#: What a WebSocket answer reads as: accepted and serving (101); closed 4401 (401), 1013 (503).
WS_CLOSE_AS_HTTP = {4401: 401, 1013: 503}


@dataclass(frozen=True)
class Row:
    """One route in the table: the rule it must state, and how to try it."""

    rule: Rule
    #: The answer the right caller gets (anybody's, on a public route).
    ok: int
    #: The right caller: a person, the adapter's name, or None (public; link: the seed's link).
    right: str | None = None
    #: Other callers, and the refusal each must get.
    others: tuple[tuple[str, int], ...] = ()
    params: Mapping[str, Value] = field(default_factory=dict)
    query: Mapping[str, Value] = field(default_factory=dict)
    json: Value = None
    #: A raw body, sent as `content_type`.
    content: Value = None
    content_type: str | None = None
    #: Destructive (erases, deletes, resolves): tried after every other row of the service.
    last: bool = False
    kind: Kind = "http"
    #: A customer-session route (rule `link`): its right caller is `CUSTOMER`.
    session: bool = False


@dataclass
class Check:
    who: str
    expected: int
    got: int
    detail: str = ""

    @property
    def held(self) -> bool:
        return self.expected == self.got

    def cell(self) -> str:
        if self.held:
            return f"{self.who} {self.got}"
        return f"{self.who} {self.got}!={self.expected} ({self.detail[:80]})"


@dataclass
class Outcome:
    """What one route answered, or why it could not be tried."""

    route: str
    rule: str
    checks: list[Check] = field(default_factory=list)
    problem: str = ""

    @property
    def held(self) -> bool:
        return not self.problem and all(c.held for c in self.checks)


def token(person_id: str, *, secret: str = TOKEN_SECRET, issuer: str = "helpdesk") -> str:
    keys = TokenKeys(secret, issuer=issuer)
    return keys.issue(person_id, ttl=timedelta(hours=1), now=datetime.now(UTC))


def bearer(person_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(person_id)}"}


def self_help_link(ticket_id: str, secret: str = TOKEN_SECRET) -> str:
    """A self-help link's token as kb signs it (a forged one with another secret)."""
    return token(ticket_id, secret=secret, issuer=SELF_HELP_ISSUER)


# -- the routes a service serves -------------------------------------------------------------


def _app_routes(routes: Iterable[Any]) -> Iterator[APIRoute | APIWebSocketRoute]:
    """Every API route, those of included routers too (kept as one entry of the app's routes,
    with their routes inside)."""
    for route in routes:
        if isinstance(route, APIRoute | APIWebSocketRoute):
            yield route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _app_routes(inner.routes)


def documented_answers(app: FastAPI) -> dict[str, set[int]]:
    """`METHOD /path` -> the status codes its OpenAPI document lists."""
    return {
        f"{method.upper()} {path}": {int(code) for code in operation.get("responses", {})}
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
    }


def served_routes(app: FastAPI) -> dict[str, str | None]:
    """`METHOD /path` -> the rule the route states (None: none), from the OpenAPI document
    (`x-access`) and from the app's routes, which also hold the WebSocket and the routes left
    out of the document."""
    found: dict[str, str | None] = {}
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            found[f"{method.upper()} {path}"] = operation.get("x-access")
    for route in _app_routes(app.routes):
        if isinstance(route, APIWebSocketRoute):
            stated = rule_of(route)
            found.setdefault(f"WEBSOCKET {route.path}", stated.value if stated else None)
            continue
        extra = route.openapi_extra or {}
        for method in (route.methods or set()) - {"HEAD"}:
            found.setdefault(f"{method} {route.path}", extra.get("x-access"))
    return found


# -- running a service ------------------------------------------------------------------------


@asynccontextmanager
async def started(
    service: Service, base_url: str = "http://svc"
) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """The service's start hooks run, its broker in memory (TestKafkaBroker), and an HTTP
    client of its app."""
    for hook in service.on_start:
        await hook()
    if service.kit is not None:
        # The broker in memory has no groups to join: its consumers count as joined.
        service.kit.joined.update(service.kit.subscriptions)
    try:
        async with TestKafkaBroker(service.broker) as broker:
            transport = httpx.ASGITransport(app=service.http)
            async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
                yield broker, client
    finally:
        await service.mongo.close()


async def first_status(
    app: Any, path: str, query: str = "", headers: Mapping[str, str] | None = None
) -> tuple[int, str]:
    """The status a streaming route (Server-Sent Events) starts its answer with; the client
    then goes away. httpx's ASGI transport would wait for the endless stream to end."""
    started = asyncio.Event()
    gone = asyncio.Event()
    answer: dict[str, Any] = {"body": b""}
    asked = False

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
            started.set()
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    scope = _scope("http", path, query)
    scope["headers"] += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    task = asyncio.create_task(app(scope, receive, send))
    waiting = asyncio.create_task(started.wait())
    await asyncio.wait([task, waiting], timeout=10, return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    gone.set()
    try:
        await asyncio.wait_for(task, timeout=10)
    except TimeoutError:
        task.cancel()
    return answer.get("status", 0), answer["body"].decode(errors="replace")


async def _websocket(app: Any, path: str, query: str) -> tuple[int, str]:
    """How a WebSocket answers: 101 when accepted and answering a ping, else its close code
    read as HTTP (`WS_CLOSE_AS_HTTP`)."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "websocket.connect"})
    task = asyncio.create_task(app(_scope("websocket", path, query), inbox.get, outbox.put))

    async def next_message() -> dict[str, Any]:
        return await asyncio.wait_for(outbox.get(), timeout=10)

    try:
        first = await next_message()
        if first["type"] == "websocket.accept":
            await inbox.put({"type": "websocket.receive", "text": "ping"})
            first = await next_message()
        if first["type"] == "websocket.close":
            code = first.get("code", 1000)
            return WS_CLOSE_AS_HTTP.get(code, code), first.get("reason", "")
        if first["type"] == "websocket.send" and "pong" in (first.get("text") or ""):
            return 101, first["text"]
        return 0, str(first)
    finally:
        await inbox.put({"type": "websocket.disconnect", "code": 1000})
        try:
            await asyncio.wait_for(task, timeout=10)
        except TimeoutError:
            task.cancel()


def _scope(kind: str, path: str, query: str) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": kind,
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "ws" if kind == "websocket" else "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", b"svc")],
        "client": ("127.0.0.1", 50000),
        "server": ("svc", 80),
    }
    if kind == "websocket":
        scope["subprotocols"] = []
    else:
        scope["method"] = "GET"
    return scope


# -- trying a row -----------------------------------------------------------------------------


def _resolve(value: Value, seeds: Seeds) -> Any:
    if callable(value):
        return value(seeds)
    if isinstance(value, str) and value.startswith("@"):
        return seeds[value[1:]]
    return value


@dataclass
class Trial:
    """One request of a row: its path parameters, headers, query and body, resolved."""

    row: Row
    method: str
    template: str
    params: dict[str, str]
    query: dict[str, str]
    body: bytes
    headers: dict[str, str]
    #: A session route's cookie value and CSRF value, from the seeds.
    session: tuple[str, str] | None = None

    @classmethod
    def of(cls, route: str, row: Row, seeds: Seeds) -> Trial:
        method, template = route.split(" ", 1)
        params = {k: str(_resolve(v, seeds)) for k, v in row.params.items()}
        query = {k: str(_resolve(v, seeds)) for k, v in row.query.items()}
        headers: dict[str, str] = {}
        if row.content is not None:
            body = _resolve(row.content, seeds)
            headers["Content-Type"] = row.content_type or "application/octet-stream"
        elif row.json is not None:
            body = json.dumps(_resolve(row.json, seeds)).encode()
            headers["Content-Type"] = "application/json"
        else:
            body = b""
        session = (seeds["portal_cookie"], seeds["portal_csrf"]) if row.session else None
        return cls(row, method, template, params, query, body, headers, session)

    def as_caller(self, who: str | None) -> Trial:
        """The request as `who` makes it: no credentials (None), a person, the adapter."""
        rule = self.row.rule
        params, query, headers = dict(self.params), dict(self.query), dict(self.headers)
        live = self.row.kind in ("stream", "websocket")
        if rule is Rule.ADAPTER:
            if who is not None:
                secret = FORGER_SECRET if who == FORGED_SIGNATURE else ADAPTER_SECRET
                headers.update(sign_request(secret, self.body, int(time.time()), adapter="gateway"))
        elif rule is Rule.LINK and self.session is not None:
            headers.update(self._session_headers(who))
        elif rule is Rule.LINK:
            if who is None:  # no link of kb's: one forged with another secret
                params["token"] = self_help_link("t-forged", FORGER_SECRET)
            elif who != LINK:  # a person's token is no link
                params["token"] = token(who)
        elif who is not None and rule is not Rule.PUBLIC:
            if live:
                query["token"] = token(who)
            else:
                headers.update(bearer(who))
        return Trial(
            self.row, self.method, self.template, params, query, self.body, headers, self.session
        )

    def _session_headers(self, who: str | None) -> dict[str, str]:
        """A session route's caller: nobody (no cookie), the customer, the customer without
        the CSRF value, a forged cookie, or a person's token (which opens no session)."""
        assert self.session is not None
        cookie, csrf = self.session
        if who is None:
            return {}
        if who == CUSTOMER:
            return {"Cookie": f"{COOKIE}={cookie}", CSRF_HEADER: csrf}
        if who == NO_CSRF:
            return {"Cookie": f"{COOKIE}={cookie}"}
        if who == FORGED_SESSION:
            return {"Cookie": f"{COOKIE}=forged-{cookie[::-1]}", CSRF_HEADER: csrf}
        return bearer(who)

    @property
    def path(self) -> str:
        return self.template.format(**self.params)

    async def send(self, app: Any, client: httpx.AsyncClient) -> tuple[int, str]:
        query = urlencode(self.query)
        if self.row.kind == "websocket":
            return await _websocket(app, self.path, query)
        if self.row.kind == "stream":
            return await first_status(app, self.path, query)
        # Each caller is only who the row says: no cookie an earlier answer set rides along.
        client.cookies.clear()
        answer = await client.request(
            self.method,
            self.path,
            params=self.query,
            content=self.body or None,
            headers=self.headers,
        )
        return answer.status_code, answer.text


async def try_row(
    route: str,
    row: Row,
    seeds: Seeds,
    app: Any,
    client: httpx.AsyncClient,
    documented: set[int] | None = None,
) -> Outcome:
    """Nobody, then each other caller, then the right one (so that a refusal that let a
    destructive request through shows before the right caller's request changes anything).
    Each refusal expected must be among the route's `documented` answers (None: the route is
    not in the OpenAPI document)."""
    outcome = Outcome(route, row.rule.value)
    try:
        trial = Trial.of(route, row, seeds)
    except KeyError as exc:
        outcome.problem = f"no seed {exc}"
        return outcome
    nobody = row.ok if row.rule is Rule.PUBLIC else 401
    label = "no session" if row.session else _nobody_label(row.rule)
    callers: list[tuple[str | None, str, int]] = [(None, label, nobody)]
    callers += [(who, who, code) for who, code in row.others]
    if row.rule is Rule.LINK:
        right = CUSTOMER if row.session else LINK
        callers.append((right, right, row.ok))
    elif row.rule is not Rule.PUBLIC:
        callers.append((row.right, row.right or "?", row.ok))
    if documented is not None:
        refusals = {code for _, _, code in callers if code >= 400}
        undocumented = sorted(refusals - documented)
        if undocumented:
            outcome.problem = f"answers {undocumented}, which its OpenAPI document does not list"
    for who, label, expected in callers:
        got, text = await trial.as_caller(who).send(app, client)
        outcome.checks.append(Check(label, expected, got, text))
    return outcome


def _nobody_label(rule: Rule) -> str:
    return {
        Rule.PUBLIC: "anyone",
        Rule.ADAPTER: "unsigned",
        Rule.LINK: "forged link",
    }.get(rule, "no token")


def table(service: str, outcomes: list[Outcome]) -> str:
    """The route-by-route table: each caller and what it got (`got!=expected` where not)."""
    width = max([len(o.route) for o in outcomes] + [5])
    lines = [f"{'':3}{service:8} {'route':{width}} {'rule':8} callers: answers"]
    for o in outcomes:
        mark = "ok" if o.held else "XX"
        said = " | ".join([c.cell() for c in o.checks] + ([o.problem] if o.problem else []))
        lines.append(f"{mark:3}{service:8} {o.route:{width}} {o.rule:8} {said}")
    return "\n".join(lines)


def order(rows: Mapping[str, Row]) -> list[str]:
    """The table's routes, destructive ones last."""
    return sorted(rows, key=lambda route: rows[route].last)


def coverage(served: Mapping[str, str | None], rows: Mapping[str, Row]) -> list[Outcome]:
    """What keeps routes from being tried: a route that states no rule, one with no row in
    the table, a row whose rule is not the route's, a row for a route no longer served."""
    found: list[Outcome] = []
    for route, stated in sorted(served.items()):
        row = rows.get(route)
        if stated is None:
            found.append(Outcome(route, "-", problem="states no access rule (no x-access)"))
        elif row is None:
            found.append(Outcome(route, stated, problem="no row in the access table"))
        elif row.rule.value != stated:
            found.append(Outcome(route, stated, problem=f"the table says {row.rule.value}"))
    for route in sorted(set(rows) - set(served)):
        found.append(Outcome(route, rows[route].rule.value, problem="not served any more"))
    return found


def capture(service: Service, topics: Iterable[str]) -> list[dict[str, Any]]:
    """Keep every event published on `topics` (before the broker is put in memory)."""
    into: list[dict[str, Any]] = []
    for topic in topics:

        @service.broker.subscriber(topic, group_id=f"route-access-{topic}")
        async def keep(body: dict[str, Any]) -> None:
            into.append(body)

    return into


async def portal_grants(
    client: httpx.AsyncClient, settings: ServiceSettings, customer_id: str, email: str
) -> Seeds:
    """A portal session of the customer (its cookie and CSRF value) and a sign-in link left
    unspent, written as intake's sign-in writes them; the client keeps no cookie."""
    mongo = make_mongo_client(settings.mongo)
    grants = MongoPortalStore(mongo[settings.database_name])
    expires = datetime.now(UTC) + timedelta(minutes=15)
    fields = {"customer_id": customer_id, "email": email, "expires_at": expires}
    try:
        for token in ("route-access-session-link", "route-access-enter-link"):
            await grants.grant("link", token, fields)
    finally:
        await mongo.close()
    entered = await client.post("/portal/enter", data={"link": "route-access-session-link"})
    assert entered.status_code == 303, entered.text
    cookie = entered.cookies[COOKIE]
    client.cookies.clear()
    me = await client.get("/portal/api/me", headers={"Cookie": f"{COOKIE}={cookie}"})
    assert me.status_code == 200, me.text
    return {
        "portal_cookie": cookie,
        "portal_csrf": me.json()["csrf_token"],
        "portal_link": "route-access-enter-link",
    }


def portal_reply() -> tuple[bytes, str]:
    """A portal reply's multipart body, with a file, and its Content-Type."""
    request = httpx.Request(
        "POST",
        "http://svc",
        data={"body": "It still drops at nine"},
        files={"file": ("log.txt", b"drops at 21:00", "text/plain")},
    )
    return request.read(), request.headers["Content-Type"]


async def portal_attachment(
    client: httpx.AsyncClient, seeds: Seeds, ticket_id: str, seen: list[dict[str, Any]]
) -> str:
    """The stored id of a file the seeds' customer sends on `ticket_id` through the portal."""
    body, kind = portal_reply()
    headers = {
        "Cookie": f"{COOKIE}={seeds['portal_cookie']}",
        CSRF_HEADER: seeds["portal_csrf"],
        "Content-Type": kind,
    }
    path = f"/portal/api/tickets/{ticket_id}/reply"
    sent = await client.post(path, content=body, headers=headers)
    assert sent.status_code == 202, sent.text
    files = [
        a["stored_id"]
        for e in seen
        if e["event_type"] == "ticket.contact_appended" and e["ticket_id"] == ticket_id
        for a in e.get("attachments", [])
    ]
    assert files, f"the portal reply stored no file on {ticket_id}"
    return str(files[-1])
