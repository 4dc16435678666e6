"""The gateway (nginx with deploy/gateway/helpdesk.conf.template) in front of a real HTTP
server: each service's prefix is taken off and passed on, live pushes pass unbuffered, a
WebSocket upgrades through it, and metrics stay inside."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import uvicorn
import websockets
from fastapi import FastAPI, Request, WebSocket
from sse_starlette import EventSourceResponse

from devstack.gateway import SERVICES, Gateway, render
from devstack.stack import free_port
from tests.conftest import eventually

pytestmark = pytest.mark.integration


def _upstream(name: str) -> FastAPI:
    app = FastAPI()
    release = asyncio.Event()

    @app.get("/stream/live")
    async def live() -> EventSourceResponse:
        async def events() -> AsyncIterator[dict[str, str]]:
            yield {"event": "hello", "data": "first"}
            # The stream stays open: the first event must arrive before it ends.
            await release.wait()

        return EventSourceResponse(events())

    @app.websocket("/ws")
    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        text = await websocket.receive_text()
        await websocket.send_text(json.dumps({"service": name, "echo": text}))
        await websocket.close()

    # Matched last: every other path answers what reached it.
    @app.get("/{path:path}")
    async def echo(path: str, request: Request) -> dict[str, str | None]:
        return {
            "service": name,
            "path": request.url.path,
            "query": request.url.query,
            "prefix": request.headers.get("x-forwarded-prefix"),
            "host": request.headers.get("host"),
        }

    app.state.release = release
    return app


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []
    upstreams: dict[str, str] = {}
    for name in SERVICES:
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(_upstream(name), host="127.0.0.1", port=port, log_config=None)
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        upstreams[name] = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(eventually(lambda: all(s.started for s, _ in servers), timeout=10))
        with Gateway(upstreams) as running:
            yield running
    finally:
        for server, thread in servers:
            server.should_exit = True
            server.force_exit = True
            thread.join(timeout=10)


def test_render_fills_every_upstream_and_keeps_nginx_variables() -> None:
    text = render({name: f"http://{name}:8080" for name in SERVICES}, "8080")
    assert "${" not in text
    assert "proxy_pass http://notifier:8080/;" in text
    assert "$http_upgrade" in text and "$service_prefix" in text
    with pytest.raises(ValueError, match="kb"):
        render({"intake": "http://intake:8080"}, "8080")


async def test_each_prefix_reaches_its_service_without_it(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        for name in SERVICES:
            answer = await client.get(f"/{name}/tickets/HD-1?q=a%20b")
            assert answer.status_code == 200
            seen = answer.json()
            assert seen["service"] == name
            assert seen["path"] == "/tickets/HD-1"
            assert seen["query"] == "q=a%20b"
            assert seen["prefix"] == f"/{name}"
            assert seen["host"] == f"127.0.0.1:{gateway.port}"


async def test_pages_have_short_names_and_metrics_stay_inside(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        assert (await client.get("/workspace")).headers["location"].endswith("/notifier/console")
        assert (await client.get("/")).headers["location"].endswith("/workspace")
        assert (await client.get("/portal")).headers["location"].endswith("/intake/portal")
        for name in SERVICES:
            assert (await client.get(f"/{name}/metrics")).status_code == 404
        assert (await client.get("/elsewhere/x")).status_code == 404


async def test_a_live_stream_passes_unbuffered(gateway: Gateway) -> None:
    async with (
        httpx.AsyncClient(base_url=gateway.url, timeout=5) as client,
        client.stream("GET", "/notifier/stream/live") as stream,
    ):
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.aiter_lines()
        first = await asyncio.wait_for(anext(lines), timeout=5)
        assert first == "event: hello"


async def test_a_websocket_upgrades_through_the_gateway(gateway: Gateway) -> None:
    url = f"ws://127.0.0.1:{gateway.port}/notifier/ws"
    async with websockets.connect(url, open_timeout=5) as socket:
        await socket.send("ping")
        answer = json.loads(await asyncio.wait_for(socket.recv(), timeout=5))
    assert answer == {"service": "notifier", "echo": "ping"}
