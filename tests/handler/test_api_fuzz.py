"""Every service's HTTP API under schemathesis, in process: each operation of each OpenAPI
document with the credentials its access rule asks for (a person's token, an adapter's
signature, a self-help link) and without any; no answer is a 5xx, every answer is documented
with a schema it matches, and values outside the schema are refused.

The suite runs a few derandomized examples per operation (`HELPDESK_FUZZ_EXAMPLES`, default 3);
`make fuzz` runs many more, seeded from `HELPDESK_FUZZ_SEED`.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Err
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.insights.app import build_app as build_insights
from services.insights.domain.surveys import Survey
from services.insights.service import SURVEY_ISSUER
from services.insights.settings import InsightsSettings
from services.insights.store import MongoInsightsStore
from services.intake.app import build_app as build_intake
from services.intake.auth import sign_request
from services.intake.settings import IntakeSettings
from services.kb.app import build_app as build_kb
from services.kb.service import SELF_HELP_ISSUER
from services.kb.settings import KbSettings
from services.notifier.app import build_app as build_notifier
from services.notifier.settings import NotifierSettings
from services.router.app import build_app as build_router
from services.router.settings import RouterSettings
from services.sla.app import build_app as build_sla
from services.sla.settings import SlaSettings
from shared.agent_tokens import TokenKeys
from shared.events import SlaBreached, TicketAssigned, TicketOpened, TicketRouted
from shared.language import LanguageDetector
from shared.runtime import Service
from tests.conftest import eventually, serving_smtp
from tests.handler.route_access_support import started

EXAMPLES = int(os.environ.get("HELPDESK_FUZZ_EXAMPLES", "3"))
#: None: derandomized, the same examples every run.
SEED = os.environ.get("HELPDESK_FUZZ_SEED") or None
ANSWER_WITHIN = 30.0

SECRET = "fuzz-tests-secret-of-at-least-32-bytes!"
ADAPTER, ADAPTER_SECRET = "gateway", "fuzz-gateway-secret"
UNLIMITED = "1000000/minute"
#: Who calls the operations of each access rule (`x-access`): somebody the rule lets in.
PEOPLE = {
    "staff": "lead-technical",
    "heads": "mgr-technical",
    "reports": "ops-rin",
    "operator": "ops-rin",
    "manager": "mgr-technical",
}
#: Operations that never finish answering a caller they let in (a live stream).
ENDLESS = {"GET /events"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
#: A body over the size limit is refused too (413), before it is read.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]
            }
        }
    }
)
#: Enough of a failure's report to see what and how; the rest is the example's bulk.
REPORT_CHARS = 2_000
TICKET = "t-fuzz-1"


@dataclass
class Api:
    """One running service, as the fuzz calls it: its client and the values that exist."""

    service: Service
    client: httpx.AsyncClient
    #: Path parameters' values the service knows, tried beside generated ones.
    known: dict[str, list[str]] = field(default_factory=dict)
    link: str | None = None

    def bearer(self, person_id: str) -> dict[str, str]:
        token = TokenKeys(SECRET).issue(person_id, ttl=timedelta(hours=1), now=datetime.now(UTC))
        return {"Authorization": f"Bearer {token}"}


def _request(case: Any) -> dict[str, Any]:
    """The case as httpx's keyword arguments, its body as the bytes sent (an adapter signs
    them)."""
    sent = case.as_transport_kwargs(base_url="http://testserver")
    content: bytes = b""
    if "json" in sent:
        content = json.dumps(sent.pop("json")).encode()
    elif isinstance(sent.get("data"), str | bytes):
        data = sent.pop("data")
        content = data.encode() if isinstance(data, str) else data
    headers = {k: _header(v) for k, v in (sent.get("headers") or {}).items()}
    request: dict[str, Any] = {
        "method": sent["method"],
        "url": sent["url"],
        "params": sent.get("params"),
        "headers": headers,
        "content": content,
    }
    for extra in ("data", "files", "cookies"):
        if sent.get(extra):
            request[extra] = sent[extra]
    return request


def _header(value: str | bytes) -> bytes:
    if isinstance(value, bytes):
        return value
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode()


def _strategy(api: Api, op: APIOperation, mode: GenerationMode, anonymous: bool) -> Any:
    """Cases of `op`, with the caller's token or link fixed (a negative case then breaks
    something else), and path parameters the service knows beside generated ones."""
    rule = op.definition.raw.get("x-access")
    fixed: dict[str, Any] = {}
    headers = api.bearer(PEOPLE[rule]) if rule in PEOPLE and not anonymous else None
    if rule == "link" and not anonymous:
        fixed["token"] = api.link

    def cases(path: dict[str, Any]) -> Any:
        return op.as_strategy(mode, path_parameters=path or None, headers=headers)

    names = [p.name for p in op.path_parameters]
    choices = {n: api.known[n] for n in names if n in api.known and n not in fixed}
    if not choices:
        return cases(fixed)
    known = st.fixed_dictionaries({n: st.sampled_from(v) for n, v in choices.items()})
    return st.one_of(cases(fixed), known.flatmap(lambda values: cases({**fixed, **values})))


def _example(
    api: Api, loop: asyncio.AbstractEventLoop, rule: str, anonymous: bool
) -> Callable[[Any], None]:
    def example(case: Any) -> None:
        request = _request(case)
        if rule == "adapter" and not anonymous:
            # Signed over the body as sent, so signed here rather than fixed in the case.
            stamp = int(time.time())
            signed = sign_request(ADAPTER_SECRET, request["content"], stamp, adapter=ADAPTER)
            request["headers"].update(signed)

        async def send() -> httpx.Response:
            # Each case is only who it says: no cookie an earlier answer set rides along, and
            # the case's own cookies are the client's for this request.
            api.client.cookies.clear()
            api.client.cookies.update(request.pop("cookies", None) or {})
            return await api.client.request(**request)

        sent = asyncio.run_coroutine_threadsafe(send(), loop)
        case.validate_response(sent.result(timeout=ANSWER_WITHIN), checks=CHECKS)

    return example


def fuzz(api: Api, loop: asyncio.AbstractEventLoop, op: APIOperation) -> list[str]:
    """Run `op`'s examples (from a worker thread: each request goes to the test's loop);
    what failed, each with the example that shows it."""
    rule = str(op.definition.raw.get("x-access"))
    runs = [(GenerationMode.POSITIVE, True)]
    if f"{op.method.upper()} {op.path}" not in ENDLESS:
        runs[:0] = [(GenerationMode.POSITIVE, False), (GenerationMode.NEGATIVE, False)]
    failures = []
    for mode, anonymous in runs:
        run = settings(
            max_examples=EXAMPLES,
            derandomize=SEED is None,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
        )(given(case=_strategy(api, op, mode, anonymous))(_example(api, loop, rule, anonymous)))
        if SEED is not None:
            run = seed(int(SEED))(run)
        try:
            run()
        except Unsatisfiable:
            continue  # Nothing to break (no parameter but the token): no negative case.
        except (Exception, BaseExceptionGroup) as exc:
            who = "anonymous" if anonymous else rule
            report = str(exc)[:REPORT_CHARS]
            failures.append(f"{op.method.upper()} {op.path} [{mode.value}, {who}]: {report}")
    return failures


def operations(api: Api) -> list[APIOperation]:
    """Every operation of the service's OpenAPI document; those that erase or delete what the
    others find go last."""
    schema = schemathesis.openapi.from_dict(api.service.http.openapi(), config=CONFIG)
    found = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):  # The document itself is wrong: that fails the test.
            raise AssertionError(f"an operation schemathesis cannot read: {result.err()}")
        found.append(result.ok())
    return sorted(found, key=lambda op: op.method == "delete" or op.path.endswith("/erase"))


def schemaless(api: Api) -> list[str]:
    """Answers an operation documents with no schema of their body (a 204 has none)."""
    return [
        f"{op.method.upper()} {op.path} {code}"
        for op in operations(api)
        for code, answer in op.definition.raw["responses"].items()
        if code != "204" and "content" not in answer
    ]


# Raw mail is bytes like any other: the generated ones are a hostile mail gateway's.
schemathesis.serializer.alias("message/rfc822", "application/octet-stream")


# -- the services, each started under TestKafkaBroker with something to find -------------------


@asynccontextmanager
async def running(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    async with started(service, "http://testserver") as (_, client):
        yield client


def _opened(ticket_id: str = TICKET) -> TicketOpened:
    return TicketOpened(
        ticket_id=ticket_id,
        reference="HD-FUZZ01",
        contact_id=f"c-{ticket_id}",
        customer_id="cu-fuzz",
        channel="email",
        subject="I forgot my password",
        body="I cannot log in since yesterday, how do I reset my password?",
    )


def _routed(ticket_id: str = TICKET, category: str = "network") -> TicketRouted:
    return TicketRouted(
        ticket_id=ticket_id,
        category=category,
        impact="medium",
        urgency="high",
        priority="P2",
        tier="L1",
        team="technical",
        reason="fuzz",
    )


async def _publish(service: Service, event: Any, topic: str) -> None:
    await service.broker.publish(event.model_dump(mode="json"), topic)


PEOPLE_KNOWN = {
    "team": ["technical", "accounts"],
    "agent_id": ["ag-nika", "lead-technical", "ag-john"],
}


async def intake(make_settings: Any, detector: LanguageDetector, stack: AsyncExitStack) -> Api:
    port = stack.enter_context(serving_smtp(_Discard()))
    settings = make_settings(
        IntakeSettings,
        agent_token_secret=SECRET,
        adapter_secrets={ADAPTER: ADAPTER_SECRET},
        adapter_rate_limit=UNLIMITED,
        public_rate_limit=UNLIMITED,
        smtp_port=port,
    )
    service = build_intake(settings, detector=detector)
    api = Api(service, await stack.enter_async_context(running(service)))
    body = json.dumps(
        {
            "contact_id": "c-fuzz",
            "message": {
                "channel": "chat",
                "chat_user_id": "w-1",
                "conversation_id": "cv-fuzz",
                "text": "Router down",
            },
        }
    ).encode()
    headers = {**sign_request(ADAPTER_SECRET, body, int(time.time()), adapter=ADAPTER)}
    headers["Content-Type"] = "application/json"
    accepted = await api.client.post("/contacts", content=body, headers=headers)
    assert accepted.status_code == 202, accepted.text
    ticket_id = accepted.json()["ticket_id"]
    await _publish(service, _routed(ticket_id), settings.topics.routing)
    ticket = await eventually(lambda: service.db["tickets"].find_one({"_id": ticket_id}))
    api.known = {"ticket_id": [ticket_id], "customer_id": [ticket["customer_id"]]}
    return api


class _Discard:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


async def router(make_settings: Any, detector: LanguageDetector, stack: AsyncExitStack) -> Api:
    settings = make_settings(RouterSettings, agent_token_secret=SECRET, public_rate_limit=UNLIMITED)
    service = build_router(settings)
    api = Api(service, await stack.enter_async_context(running(service)))
    await _publish(service, _opened(), settings.topics.tickets)
    api.known = {**PEOPLE_KNOWN, "ticket_id": [TICKET]}
    return api


async def sla(make_settings: Any, detector: LanguageDetector, stack: AsyncExitStack) -> Api:
    settings = make_settings(SlaSettings, agent_token_secret=SECRET, public_rate_limit=UNLIMITED)
    service = build_sla(settings)
    api = Api(service, await stack.enter_async_context(running(service)))
    await _publish(service, _opened(), settings.topics.tickets)
    await _publish(service, _routed(), settings.topics.routing)
    api.known = {"ticket_id": [TICKET]}
    return api


async def insights(make_settings: Any, detector: LanguageDetector, stack: AsyncExitStack) -> Api:
    settings = make_settings(
        InsightsSettings, agent_token_secret=SECRET, public_rate_limit=UNLIMITED
    )
    service = build_insights(settings)
    api = Api(service, await stack.enter_async_context(running(service)))
    await _publish(service, _opened(), settings.topics.tickets)
    await _publish(service, _routed(), settings.topics.routing)
    now = datetime.now(UTC)
    survey = Survey(ticket_id=TICKET, offered_at=now, expires_at=now + timedelta(days=14))
    await MongoInsightsStore(service.db).offer_surveys([survey])
    keys = TokenKeys(SECRET, issuer=SURVEY_ISSUER)
    api.link = keys.issue(TICKET, ttl=timedelta(days=7), now=now)
    return api


async def notifier(make_settings: Any, detector: LanguageDetector, stack: AsyncExitStack) -> Api:
    settings = make_settings(
        NotifierSettings, agent_token_secret=SECRET, public_rate_limit=UNLIMITED
    )
    service = build_notifier(settings)
    api = Api(service, await stack.enter_async_context(running(service)))
    assigned = TicketAssigned(ticket_id=TICKET, agent_id="ag-nika", team="technical", reason="fuzz")
    await _publish(service, assigned, settings.topics.routing)
    breach = SlaBreached(
        ticket_id=TICKET,
        metric="first_response",
        team="technical",
        assignee_id="ag-nika",
        priority="P2",
        due_at=datetime.now(UTC) - timedelta(minutes=1),
        occurred_at=datetime.now(UTC),
        late_by_seconds=60.0,
    )
    await _publish(service, breach, settings.topics.sla)
    escalations = await service.db["escalations"].distinct("_id")
    api.known = {"escalation_id": [str(e) for e in escalations], "name": ["fuzz-hook"]}
    return api


async def kb(make_settings: Any, detector: LanguageDetector, stack: AsyncExitStack) -> Api:
    settings = make_settings(
        KbSettings,
        agent_token_secret=SECRET,
        public_rate_limit=UNLIMITED,
        public_url="https://help.example/kb",
    )
    service = build_kb(settings, detector=detector)
    api = Api(service, await stack.enter_async_context(running(service)))
    await _publish(service, _opened(), settings.topics.tickets)
    await _publish(service, _routed(category="account"), settings.topics.routing)
    keys = TokenKeys(SECRET, issuer=SELF_HELP_ISSUER)
    api.link = keys.issue(TICKET, ttl=timedelta(days=7), now=datetime.now(UTC))
    articles = await service.db["articles"].distinct("_id")
    canned = await service.db["canned"].distinct("_id")
    api.known = {
        "article_id": [str(a) for a in articles][:5],
        "canned_id": [str(c) for c in canned][:5],
    }
    return api


SERVICES: dict[str, Callable[..., Any]] = {
    "intake": intake,
    "router": router,
    "sla": sla,
    "notifier": notifier,
    "kb": kb,
    "insights": insights,
}


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector(("en", "fa", "ru", "el"))


@pytest.mark.parametrize("name", list(SERVICES))
async def test_every_operation_answers_as_documented_with_and_without_credentials(
    name: str, make_settings: Any, detector: LanguageDetector
) -> None:
    async with AsyncExitStack() as stack:
        api = await SERVICES[name](make_settings, detector, stack)
        loop = asyncio.get_running_loop()
        failures = [f"{label}: documented without a schema" for label in schemaless(api)]
        for op in operations(api):
            failures += await asyncio.to_thread(fuzz, api, loop, op)
    ran = f"seed {SEED}" if SEED else "derandomized"
    assert not failures, f"{len(failures)} failures ({ran}):\n\n" + "\n\n".join(failures)
