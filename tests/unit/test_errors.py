"""Every service's error answers in one shape (`shared.errors`), and an unexpected error logged
once, with its stack trace, under the id its 500 answer gives."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, HTTPException, Query
from pymongo.errors import AutoReconnect
from structlog.testing import capture_logs

from shared import errors
from shared.runtime import new_http_app


def _app() -> Any:
    app = new_http_app("errors", "the error answers under test")
    inner = APIRouter()

    @app.get("/boom", responses={409: {"description": "taken"}})
    async def boom(n: int = Query(default=1, ge=1, le=10)) -> dict[str, int]:
        raise RuntimeError(f"internal state {n} leaked?")

    @app.get("/database-away")
    async def database_away() -> None:
        raise AutoReconnect("127.0.0.1:27017: connection closed")

    @app.get("/refused")
    async def refused() -> None:
        raise HTTPException(422, "say which article solved it")

    @app.get("/structured")
    async def structured() -> None:
        raise HTTPException(409, {"kind": "taken", "by": "ag-nika"})

    @inner.post("/fill/{canned_id}")
    async def fill(canned_id: str) -> None:
        raise errors.unprocessable("no value for {customer}", "body", "values", kind="missing")

    app.include_router(inner)
    errors.document(app)
    app.add_middleware(errors.UnexpectedErrors)
    return app


async def _get(app: Any, method: str, path: str) -> httpx.Response:
    # raise_app_exceptions: an exception escaping the middleware would fail the request here.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.request(method, path)


async def test_an_unexpected_error_is_answered_500_with_an_id_and_logged_once_with_it() -> None:
    app = _app()
    with capture_logs() as logs:
        answer = await _get(app, "GET", "/boom?n=3")

    assert answer.status_code == 500
    body = answer.json()
    assert set(body) == {"detail", "error_id"} and len(body["error_id"]) == 32
    assert "leaked" not in answer.text  # Nothing of the internals reaches the caller.
    (logged,) = [entry for entry in logs if entry["event"] == "http.unexpected_error"]
    assert logged["error_id"] == body["error_id"]
    assert logged["route"] == "/boom" and logged["method"] == "GET"
    assert logged["log_level"] == "error" and logged["exc_info"] is True


async def test_a_database_out_of_reach_is_answered_503_to_retry_not_500() -> None:
    app = _app()
    with capture_logs() as logs:
        answer = await _get(app, "GET", "/database-away")

    assert answer.status_code == 503 and answer.headers["Retry-After"] == "2"
    assert answer.json() == {"detail": "the database is out of reach for now; try again shortly"}
    assert [e["event"] for e in logs] == ["http.database_unreachable"]
    documented = _app().openapi()["paths"]["/database-away"]["get"]["responses"]["503"]
    assert "Retry-After" in documented["description"]


@pytest.mark.parametrize(
    ("path", "method", "loc", "kind"),
    [
        ("/refused", "GET", [], "value_error"),
        ("/fill/c-1", "POST", ["body", "values"], "missing"),
        ("/boom?n=11", "GET", ["query", "n"], "less_than_equal"),
        ("/boom?n=x", "GET", ["query", "n"], "int_parsing"),
    ],
)
async def test_every_422_is_a_list_of_issues_where_and_why(
    path: str, method: str, loc: list[str], kind: str
) -> None:
    answer = await _get(_app(), method, path)

    assert answer.status_code == 422
    (issue,) = answer.json()["detail"]
    assert issue["loc"] == loc and issue["type"] == kind and issue["msg"]


async def test_any_other_refusal_is_a_detail_in_words() -> None:
    answer = await _get(_app(), "GET", "/structured")

    assert answer.status_code == 409
    detail = answer.json()["detail"]
    assert isinstance(detail, str) and "ag-nika" in detail


def test_every_route_documents_its_error_answers_with_their_schemas() -> None:
    document = _app().openapi()
    boom = document["paths"]["/boom"]["get"]["responses"]
    fill = document["paths"]["/fill/{canned_id}"]["post"]["responses"]

    def schema(answer: dict[str, Any]) -> str:
        return str(answer["content"]["application/json"]["schema"]["$ref"]).rsplit("/", 1)[-1]

    assert schema(boom["409"]) == "Problem" and boom["409"]["description"] == "taken"
    assert schema(boom["422"]) == "Unprocessable" and schema(boom["500"]) == "InternalError"
    assert schema(fill["422"]) == "Unprocessable" and schema(fill["413"]) == "Problem"
    assert "422" not in document["paths"]["/structured"]["get"]["responses"]  # Takes nothing.


@pytest.mark.parametrize("stdlib", [True, False])
def test_a_logged_exception_carries_its_stack_trace_in_json(stdlib: bool) -> None:
    """In its own process: logging is configured process-wide."""
    script = textwrap.dedent(
        f"""
        import logging
        from shared.logging import configure_logging, get_logger
        from shared.settings import LoggingSettings

        configure_logging(LoggingSettings(format="json"), service="probe")
        def deep():
            raise ValueError("the cause")
        try:
            deep()
        except ValueError:
            if {stdlib}:
                logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
            else:
                get_logger("probe").exception("http.unexpected_error", error_id="e1")
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    (line,) = run.stderr.strip().splitlines()
    record = json.loads(line)
    assert "Traceback (most recent call last)" in record["exception"]
    assert "in deep" in record["exception"] and "ValueError: the cause" in record["exception"]
    assert "<traceback object" not in line
