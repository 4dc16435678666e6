"""The webhook channel: Slack payloads and escaping, signatures, backoff, and the HTTP sender."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import uvicorn
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from devstack.stack import free_port
from services.notifier.domain.addresses import AddressPolicy, WebhookRules
from services.notifier.domain.chat import (
    DIGEST_LIMIT,
    WebhookTarget,
    backoff_delay,
    encode,
    next_delay,
    retry_after_seconds,
    sign,
    signature_headers,
    slack_payload,
    verify,
)
from services.notifier.domain.notices import Notice
from services.notifier.egress import AddressGuard
from services.notifier.webhooks import WebhookFailure, WebhookSender
from tests.conftest import eventually

SECRET = "whsec-0123456789abcdef"
T0 = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
HOSTILE = "<!channel> refund now <https://evil.example|click> & ping <@U123> <!here>"


def notice(**overrides: Any) -> Notice:
    fields: dict[str, Any] = {
        "kind": "sla_breach",
        "event_id": "0b5e7f5c-0000-4000-8000-000000000001",
        "event_type": "sla.breached",
        "occurred_at": T0,
        "ticket_id": "t-1",
        "reference": "HD-7K3Q9X",
        "metric": "first_response",
        "level_percent": 100,
        "due_at": T0 - timedelta(minutes=65),
        "overdue_seconds": 3900.0,
        "priority": "P1",
        "team": "billing",
        "subject": "Invoice charged twice",
        "customer": "Eleni Papadopoulou",
    }
    return Notice.model_validate(fields | overrides)


def target(url: str, **overrides: Any) -> WebhookTarget:
    return WebhookTarget.model_validate(
        {"name": "ops-chat", "url": url, "secret": SECRET} | overrides
    )


def texts(payload: dict[str, Any]) -> str:
    """Every string a chat tool would render, joined."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            found.append(node)

    walk(payload)
    return "\n".join(found)


# --- targets -------------------------------------------------------------------------------


def test_target_rejects_bad_name_scheme_and_short_secret() -> None:
    with pytest.raises(ValidationError):
        target("https://chat.example/hook", name="Ops Chat")
    with pytest.raises(ValidationError):
        target("ftp://chat.example/hook")
    with pytest.raises(ValidationError):
        target("https://chat.example/hook", secret="too-short")
    assert SECRET not in repr(target("https://chat.example/hook"))


def test_target_wants_its_teams_and_kinds_only_while_active() -> None:
    everything = target("https://chat.example/hook")
    billing_breaches = target("https://chat.example/hook", teams=["billing"], kinds=["sla_breach"])
    assert everything.wants(notice()) and everything.wants(notice(team=None))
    assert billing_breaches.wants(notice())
    assert not billing_breaches.wants(notice(team="network"))
    assert not billing_breaches.wants(notice(team=None))
    assert not billing_breaches.wants(notice(kind="sla_warning"))
    assert not target("https://chat.example/hook", active=False).wants(notice())


# --- payloads ------------------------------------------------------------------------------


def test_one_breach_is_one_message_with_facts_and_an_acknowledge_link() -> None:
    payload = slack_payload(
        [notice(escalation_id="esc-42", rung=1)], console_url="https://desk.example/console"
    )
    assert payload["text"] == "[HD-7K3Q9X] SLA breached: first response: Invoice charged twice"
    header, section, context = payload["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "SLA breached: first response · HD-7K3Q9X"},
    }
    assert "Invoice charged twice" in section["text"]["text"]
    assert "Eleni Papadopoulou" in section["text"]["text"]
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in section["fields"]}
    assert fields == {
        "*Reference*": "HD-7K3Q9X",
        "*Metric*": "first response",
        "*Priority*": "P1",
        "*Team*": "billing",
        "*Overdue by*": "1 h 5 min",
        "*Rung*": "2",
        "*Ask*": "Send the first response now",
    }
    assert all(f["type"] == "mrkdwn" and f["verbatim"] for f in section["fields"])
    link = context["elements"][0]["text"]
    assert "<https://desk.example/console#escalation=esc-42|" in link


def test_warning_shows_due_time_for_each_reader_and_time_left() -> None:
    warning = notice(
        kind="sla_warning",
        event_type="sla.warning",
        level_percent=75,
        due_at=T0 + timedelta(minutes=20),
        remaining_seconds=1200.0,
        overdue_seconds=None,
    )
    payload = slack_payload([warning])
    assert payload["blocks"][0]["text"]["text"] == "SLA warning: first response at 75% · HD-7K3Q9X"
    due = next(f["text"] for f in payload["blocks"][1]["fields"] if f["text"].startswith("*Due*"))
    assert f"<!date^{int((T0 + timedelta(minutes=20)).timestamp())}^" in due
    assert "|2025-03-04 09:50 UTC>" in due and due.endswith("(in 20 min)")
    assert len(payload["blocks"]) == 2  # no escalation: nothing to acknowledge
    assert "*Rung*" not in texts(payload)


def test_prompt_and_escalation_without_console_url_say_what_to_do() -> None:
    prompt = notice(kind="sla_prompt", prompt="call_customer", escalation_id="esc-7")
    payload = slack_payload([prompt])
    assert "*Ask*\nCall customer" in texts(payload)
    assert "Acknowledge escalation `esc-7` in the console" in texts(payload)


def test_several_notices_make_one_digest_listing_each() -> None:
    refs = ["HD-AAAAAA", "HD-BBBBBB", "HD-CCCCCC"]
    payload = slack_payload([notice(reference=r, kind="sla_warning") for r in refs])
    assert payload["text"] == "3 help desk notices: HD-AAAAAA, HD-BBBBBB, HD-CCCCCC"
    assert payload["blocks"][0]["text"]["text"] == "3 help desk notices"
    sections = [b for b in payload["blocks"] if b["type"] == "section"]
    assert [s["fields"][0]["text"] for s in sections] == [f"*Reference*\n{r}" for r in refs]


def test_long_digest_stays_within_slack_block_limit() -> None:
    many = [notice(escalation_id=f"esc-{i}") for i in range(DIGEST_LIMIT + 7)]
    payload = slack_payload(many, console_url="https://desk.example/console")
    assert len(payload["blocks"]) <= 50
    assert payload["blocks"][-1]["elements"][0]["text"] == "…and 7 more in the console"


def test_empty_list_is_refused() -> None:
    with pytest.raises(ValueError):
        slack_payload([])


def test_customer_text_cannot_mention_or_link() -> None:
    payload = slack_payload(
        [notice(subject=HOSTILE, customer="Bob <@U999>", reason="x & <y>", escalation_id="e")],
        console_url="https://desk.example/console",
    )
    rendered = texts(payload)
    for raw in ("<!channel>", "<!here>", "<@U123>", "<@U999>", "<https://evil", "<y>"):
        assert raw not in rendered
    assert "&lt;!channel&gt; refund now &lt;https://evil.example|click&gt; &amp; ping" in rendered
    assert "Bob &lt;@U999&gt;" in rendered and "x &amp; &lt;y&gt;" in rendered
    assert payload["text"].startswith("[HD-7K3Q9X] SLA breached: first response: &lt;!channel&gt;")
    # The only links left are our own: the due date and the console.
    assert rendered.count("<") == rendered.count("<!date^") + rendered.count("<https://desk.")


def test_encode_is_compact_utf8() -> None:
    payload = slack_payload([notice(subject="صورت‌حساب دو بار", customer="Ιωάννης")])
    body = encode(payload)
    assert "صورت‌حساب دو بار".encode() in body and "Ιωάννης".encode() in body
    assert b'", "' not in body and b'": ' not in body
    assert json.loads(body) == payload


# --- signatures ----------------------------------------------------------------------------

BODY = b'{"text":"hello"}'
VECTOR = "v1=5080faa3a0a6d9056d2eb694e8ebbbc1b1c2a3fc7077c7ce41d1735c6788e2df"


def test_sign_matches_a_fixed_vector() -> None:
    # openssl: printf '1700000000.{"text":"hello"}' | openssl dgst -sha256 -hmac <SECRET>
    assert sign(SECRET, 1_700_000_000, BODY) == VECTOR


def test_signature_headers_carry_time_signature_and_delivery_key() -> None:
    headers = signature_headers(
        SECRET, BODY, timestamp=1_700_000_000, delivery_key="ev:ops:webhook"
    )
    assert headers == {
        "Content-Type": "application/json",
        "User-Agent": "helpdesk-notifier",
        "X-Helpdesk-Timestamp": "1700000000",
        "X-Helpdesk-Signature": VECTOR,
        "X-Helpdesk-Delivery": "ev:ops:webhook",
    }


@pytest.mark.parametrize(
    ("body", "timestamp", "signature", "now", "ok"),
    [
        (BODY, "1700000000", VECTOR, 1_700_000_100, True),
        (BODY, "1700000000", VECTOR, 1_699_999_900, True),
        (b'{"text":"hellO"}', "1700000000", VECTOR, 1_700_000_000, False),
        (BODY, "1700000001", VECTOR, 1_700_000_000, False),
        (BODY, "1700000000", VECTOR, 1_700_000_301, False),
        (BODY, "1700000000", VECTOR.upper(), 1_700_000_000, False),
        (BODY, "soon", VECTOR, 1_700_000_000, False),
        (BODY, None, VECTOR, 1_700_000_000, False),
        (BODY, "1700000000", None, 1_700_000_000, False),
    ],
    ids=[
        "fresh",
        "clock-behind",
        "body",
        "timestamp",
        "expired",
        "case",
        "bad-ts",
        "no-ts",
        "no-sig",
    ],
)
def test_verify_accepts_only_untampered_fresh_bodies(
    body: bytes, timestamp: str | None, signature: str | None, now: float, ok: bool
) -> None:
    assert (
        verify(SECRET, body, timestamp_header=timestamp, signature_header=signature, now=now) is ok
    )


def test_verify_rejects_another_secret() -> None:
    signed = sign("another-secret-0123456", 1_700_000_000, BODY)
    assert not verify(
        SECRET, BODY, timestamp_header="1700000000", signature_header=signed, now=1_700_000_000
    )


# --- backoff -------------------------------------------------------------------------------


def test_backoff_stays_within_its_growing_ceiling_and_the_cap() -> None:
    rng = random.Random(20250304)
    base, cap = 2.0, 60.0
    means = []
    for attempt in range(1, 10):
        ceiling = min(cap, base * 2 ** (attempt - 1))
        draws = [backoff_delay(attempt, base=base, cap=cap, rng=rng) for _ in range(2000)]
        assert all(0 <= d <= ceiling for d in draws)
        assert max(draws) > 0.95 * ceiling  # full jitter uses the whole range
        means.append(sum(draws) / len(draws))
    assert means[:5] == sorted(means[:5])  # grows until the cap is reached
    assert means[0] < 1.2 and 25 < means[-1] < 35
    assert backoff_delay(10_000, base=base, cap=cap, rng=rng) <= cap
    with pytest.raises(ValueError):
        backoff_delay(0, base=base, cap=cap, rng=rng)


def test_retry_after_is_a_floor_not_a_ceiling() -> None:
    rng = random.Random(7)
    assert all(next_delay(1, 1.0, 60.0, rng, retry_after=30.0) >= 30.0 for _ in range(1000))
    assert all(next_delay(1, 1.0, 60.0, rng, retry_after=0.1) <= 1.0 for _ in range(1000))
    assert max(next_delay(9, 1.0, 60.0, rng, retry_after=30.0) for _ in range(1000)) > 55
    same_a, same_b = random.Random(3), random.Random(3)
    assert next_delay(4, 1.0, 60.0, same_a, None) == backoff_delay(
        4, base=1.0, cap=60.0, rng=same_b
    )


def test_retry_after_header_as_seconds_or_http_date() -> None:
    now = datetime(2025, 3, 4, 9, 30, tzinfo=UTC).timestamp()
    assert retry_after_seconds("7", now=now) == 7.0
    assert retry_after_seconds("Tue, 04 Mar 2025 09:31:00 GMT", now=now) == 60.0
    assert retry_after_seconds("Tue, 04 Mar 2025 09:00:00 GMT", now=now) == 0.0
    assert retry_after_seconds("later", now=now) is None
    assert retry_after_seconds(None, now=now) is None


# --- the sender against a real local HTTP server -------------------------------------------

TIMEOUT = 0.5
MARGIN = 0.3


@dataclass
class Receiver:
    """A chat tool's endpoint: checks every signature with `verify`, records what came in."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    received: list[dict[str, Any]] = field(default_factory=list)

    async def ok(self, request: Request) -> Response:
        body = await request.body()
        valid = verify(
            SECRET,
            body,
            timestamp_header=request.headers.get("x-helpdesk-timestamp"),
            signature_header=request.headers.get("x-helpdesk-signature"),
            now=time.time(),
        )
        self.received.append({"valid": valid, "body": body, "headers": dict(request.headers)})
        return PlainTextResponse("ok" if valid else "bad signature", 200 if valid else 401)

    async def hang(self, request: Request) -> Response:
        await self.release.wait()
        return PlainTextResponse("too late")

    async def trickle(self, request: Request) -> Response:
        async def drip() -> AsyncIterator[bytes]:
            while not self.release.is_set():
                yield b"."
                await asyncio.sleep(0.05)

        status = int(request.query_params.get("status", "200"))
        return StreamingResponse(drip(), status_code=status)

    def app(self) -> Starlette:
        def answer(status: int, headers: dict[str, str] | None = None) -> Any:
            async def endpoint(request: Request) -> Response:
                return PlainTextResponse("no", status, headers=headers)

            return endpoint

        return Starlette(
            routes=[
                Route("/ok", self.ok, methods=["POST"]),
                Route("/hang", self.hang, methods=["POST"]),
                Route("/trickle", self.trickle, methods=["POST"]),
                Route("/fail", answer(500), methods=["POST"]),
                Route("/unavailable", answer(503, {"Retry-After": "120"}), methods=["POST"]),
                Route("/busy", answer(429, {"Retry-After": "7"}), methods=["POST"]),
                Route("/missing", answer(404), methods=["POST"]),
                Route("/moved", answer(301, {"Location": "/ok"}), methods=["POST"]),
            ]
        )


@pytest.fixture(scope="module")
async def servers() -> AsyncIterator[tuple[Receiver, list[str]]]:
    """Two endpoints (two origins) of one receiver, on uvicorn, stopped at the end."""
    receiver = Receiver()
    running: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []
    urls = []
    for _ in range(2):
        port = free_port()
        config = uvicorn.Config(
            receiver.app(),
            host="127.0.0.1",
            port=port,
            lifespan="off",
            log_config=None,
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        running.append((server, asyncio.create_task(server.serve())))
        await eventually(lambda: running[-1][0].started, timeout=10)
        urls.append(f"http://127.0.0.1:{port}")
    yield receiver, urls
    receiver.release.set()
    for server, _ in running:
        server.should_exit = True
    await asyncio.gather(*(task for _, task in running))


#: The receivers here listen on 127.0.0.1, which only an allow-list lets a webhook reach.
LOOPBACK = AddressGuard(AddressPolicy.of(WebhookRules(allow_networks=("127.0.0.0/8",))))


@pytest.fixture
async def sender() -> AsyncIterator[WebhookSender]:
    webhooks = WebhookSender(LOOPBACK, timeout=TIMEOUT)
    yield webhooks
    await webhooks.aclose()


async def failure_of(
    sender: WebhookSender, url: str, *, now: float | None = None
) -> WebhookFailure:
    with pytest.raises(WebhookFailure) as caught:
        # A bound of its own, so a sender that ignores its timeout fails here instead of hanging.
        send = sender.send(target(url), BODY, delivery_key="k", now=now or time.time())
        await asyncio.wait_for(send, TIMEOUT + 5)
    return caught.value


async def test_delivery_is_signed_and_verified_by_the_receiver(
    servers: tuple[Receiver, list[str]], sender: WebhookSender
) -> None:
    receiver, urls = servers
    body = encode(slack_payload([notice(subject=HOSTILE)]))
    key = "0b5e7f5c:ops-chat:webhook"
    assert (
        await sender.send(target(f"{urls[0]}/ok"), body, delivery_key=key, now=time.time()) == 200
    )
    seen = receiver.received[-1]
    assert seen["valid"] and seen["body"] == body
    assert seen["headers"]["x-helpdesk-delivery"] == key
    assert seen["headers"]["user-agent"] == "helpdesk-notifier"
    assert seen["headers"]["content-type"] == "application/json"


async def test_a_stale_timestamp_is_refused_by_the_receiver(
    servers: tuple[Receiver, list[str]], sender: WebhookSender
) -> None:
    receiver, urls = servers
    failure = await failure_of(sender, f"{urls[0]}/ok", now=time.time() - 3600)
    assert failure.permanent and failure.status == 401
    assert receiver.received[-1]["valid"] is False


@pytest.mark.parametrize(
    ("path", "permanent", "status", "retry_after"),
    [
        ("/fail", False, 500, None),
        ("/unavailable", False, 503, 120.0),
        ("/busy", False, 429, 7.0),
        ("/missing", True, 404, None),
        ("/moved", True, 301, None),
    ],
)
async def test_answers_are_sorted_into_retryable_and_permanent(
    servers: tuple[Receiver, list[str]],
    sender: WebhookSender,
    path: str,
    permanent: bool,
    status: int,
    retry_after: float | None,
) -> None:
    failure = await failure_of(sender, servers[1][0] + path)
    assert (failure.permanent, failure.status, failure.retry_after) == (
        permanent,
        status,
        retry_after,
    )
    assert f"HTTP {status}" in str(failure)


async def test_a_hanging_endpoint_fails_retryably_within_the_timeout(
    servers: tuple[Receiver, list[str]], sender: WebhookSender
) -> None:
    started = time.monotonic()
    failure = await failure_of(sender, servers[1][0] + "/hang")
    elapsed = time.monotonic() - started
    assert not failure.permanent and failure.status is None
    assert TIMEOUT * 0.9 <= elapsed < TIMEOUT + MARGIN
    assert "no answer within 0.5 s" in str(failure)


async def test_a_trickling_body_cannot_hold_the_sender_past_the_timeout(
    servers: tuple[Receiver, list[str]], sender: WebhookSender
) -> None:
    # A byte every 50 ms keeps each httpx read short; only the overall deadline stops it.
    started = time.monotonic()
    failure = await failure_of(sender, servers[1][0] + "/trickle?status=503")
    assert time.monotonic() - started < TIMEOUT + MARGIN
    assert not failure.permanent and failure.status == 503
    started = time.monotonic()
    accepted = target(servers[1][0] + "/trickle?status=202")
    assert await sender.send(accepted, BODY, delivery_key="k", now=time.time()) == 202
    assert time.monotonic() - started < TIMEOUT + MARGIN


async def test_connection_refused_is_retryable(sender: WebhookSender) -> None:
    failure = await failure_of(sender, f"http://127.0.0.1:{free_port()}/hook")
    assert not failure.permanent and failure.status is None
    assert "unreachable" in str(failure)


async def test_an_inactive_target_is_never_called(
    servers: tuple[Receiver, list[str]], sender: WebhookSender
) -> None:
    receiver, urls = servers
    before = len(receiver.received)
    with pytest.raises(WebhookFailure) as caught:
        await sender.send(
            target(f"{urls[0]}/ok", active=False), BODY, delivery_key="k", now=time.time()
        )
    assert caught.value.permanent and len(receiver.received) == before


async def test_a_slow_endpoint_does_not_starve_another(
    servers: tuple[Receiver, list[str]],
) -> None:
    _, (fast, slow) = servers
    # A pool of 3 with 2 per host: the hanging host can never take the third connection.
    webhooks = WebhookSender(LOOPBACK, timeout=2.0, max_connections=3, per_host_connections=2)
    try:
        stuck = [
            asyncio.create_task(
                webhooks.send(target(slow + "/hang"), BODY, delivery_key=f"s{i}", now=time.time())
            )
            for i in range(5)
        ]
        await asyncio.sleep(0)  # let the stuck deliveries claim their slots first
        started = time.monotonic()
        status = await webhooks.send(target(fast + "/ok"), BODY, delivery_key="f", now=time.time())
        assert status == 200 and time.monotonic() - started < 1.0
        assert all(not task.done() for task in stuck)
        for task in stuck:
            task.cancel()
        await asyncio.gather(*stuck, return_exceptions=True)
    finally:
        await webhooks.aclose()
