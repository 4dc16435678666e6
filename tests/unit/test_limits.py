"""Request bodies past their route's limit are refused with 413, declared or streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI, Request

from shared.limits import BodyLimit


def app() -> FastAPI:
    api = FastAPI()

    @api.post("/small")
    async def small(request: Request) -> dict[str, int]:
        return {"got": len(await request.body())}

    @api.post("/mail")
    async def mail(request: Request) -> dict[str, int]:
        return {"got": len(await request.body())}

    @api.post("/tickets/{ticket_id}/reply")
    async def reply(ticket_id: str, request: Request) -> dict[str, int]:
        return {"got": len(await request.body())}

    api.add_middleware(
        BodyLimit, limit=1000, larger={"/mail": 5000, "/tickets/{ticket_id}/reply": 3000}
    )
    return api


async def post(path: str, content: bytes | AsyncIterator[bytes]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app())
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        return await client.post(path, content=content)


async def chunks(size: int, count: int) -> AsyncIterator[bytes]:
    for _ in range(count):
        yield b"x" * size


async def test_a_body_within_the_limit_passes_and_one_over_it_is_refused() -> None:
    assert (await post("/small", b"x" * 1000)).json() == {"got": 1000}
    refused = await post("/small", b"x" * 1001)
    assert refused.status_code == 413
    assert "limit of 1000 bytes" in refused.json()["detail"]


async def test_a_streamed_body_with_no_length_is_cut_off_at_the_limit() -> None:
    refused = await post("/small", chunks(400, 5))
    assert refused.status_code == 413


async def test_a_route_may_take_more_than_the_default() -> None:
    assert (await post("/mail", b"x" * 4000)).json() == {"got": 4000}
    assert (await post("/mail", b"x" * 5001)).status_code == 413


async def test_a_route_template_takes_more_on_every_path_it_names_and_only_those() -> None:
    assert (await post("/tickets/T-1/reply", b"x" * 3000)).json() == {"got": 3000}
    assert (await post("/tickets/T-1/reply", b"x" * 3001)).status_code == 413
    # One segment per placeholder: a longer path is not the template's.
    assert (await post("/tickets/a/b/reply", b"x" * 2000)).status_code == 413
