"""One shape for every error answer of every service's HTTP API, and the handling that keeps it.

- A refusal (400, 401, 403, 404, 409, 413, 429, 503) is `{"detail": "<what went wrong>"}`.
- A 422 is FastAPI's own: `{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`, a
  domain's refusal of a well-formed request included (`unprocessable`, `issue`).
- An unexpected error is logged once, with its stack trace and an error id, and answered 500
  with that id and nothing of the internals: `{"detail": "...", "error_id": "..."}`.

`install` registers the handling on an app (`new_http_app`); `document` writes each route's
error answers into its OpenAPI document (`Service.seal`).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.utils import create_model_field, is_body_allowed_for_status_code
from pydantic import BaseModel, ConfigDict, Field
from pymongo.errors import ConnectionFailure
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import access
from shared.logging import get_logger

log = get_logger(__name__)


class Problem(BaseModel):
    """Every error answer but 422 and 500: what went wrong, in words."""

    detail: str = Field(description="What went wrong.")


class Issue(BaseModel):
    """One thing wrong with a request, as FastAPI reports a validation error."""

    model_config = ConfigDict(extra="allow")

    loc: list[str | int] = Field(description="Where: `body`, `query`, `path` and the field.")
    msg: str = Field(description="What is wrong, in words.")
    type: str = Field(description="What kind of wrong, for a program: `missing`, `no_team`, ...")
    input: Any = Field(default=None, description="The value refused, when there was one.")
    ctx: dict[str, Any] | None = Field(default=None, description="The rule's values, if any.")


class Unprocessable(BaseModel):
    """A 422: the request is well-formed but its values are refused."""

    detail: list[Issue] = Field(description="Everything wrong with the request.")


class InternalError(BaseModel):
    """A 500: something unexpected; the log line with the stack trace carries `error_id`."""

    detail: str = Field(description="That it was unexpected; never the internals.")
    error_id: str = Field(description="Quote it to the operators: it names the log line.")


#: What each error answer is about, on routes that do not say it in their own words.
_DESCRIPTIONS = {
    400: "The body cannot be read: not UTF-8, or not in its declared media type.",
    413: "The request body is over the limit.",
    422: "The request's values are refused: every issue, where and why.",
    500: "Unexpected: logged with this `error_id`.",
    503: "The database is out of reach for now (restarting, failing over): try again after "
    "`Retry-After` seconds. Nothing was lost; a retry with the same `Idempotency-Key` is safe.",
}
UNEXPECTED = "unexpected error; quote the error_id to the operators"
#: How soon a client may try again while the database is out of reach.
RETRY_AFTER_SECONDS = 2


def issue(msg: str, *loc: str | int, kind: str = "value_error") -> dict[str, Any]:
    """One item of a 422's `detail`: `issue("no team 'x'", "body", "to_team", kind="no_team")`."""
    return {"loc": list(loc), "msg": msg, "type": kind}


def unprocessable(msg: str, *loc: str | int, kind: str = "value_error") -> HTTPException:
    """A 422 refusal of a value, in the shape FastAPI gives its own."""
    return HTTPException(422, [issue(msg, *loc, kind=kind)])


def refusal(code: int, exc: Exception, *loc: str | int) -> JSONResponse:
    """The answer to a domain's refusal by its HTTP status (a service's table of errors): its
    message as `detail`; for 422, one issue at `loc` whose type is the error's class."""
    if code == 422:
        kind = _snake(type(exc).__name__)
        return JSONResponse({"detail": [issue(str(exc), *loc, kind=kind)]}, status_code=code)
    return JSONResponse({"detail": str(exc)}, status_code=code)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def _is_issues(detail: object) -> bool:
    return isinstance(detail, list) and all(
        isinstance(i, dict) and {"loc", "msg", "type"} <= i.keys() for i in detail
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    """FastAPI's answer to an HTTPException, with its detail held to the one shape."""
    assert isinstance(exc, StarletteHTTPException)
    headers = getattr(exc, "headers", None)
    if not is_body_allowed_for_status_code(exc.status_code):
        return Response(status_code=exc.status_code, headers=headers)
    detail: Any = exc.detail
    if exc.status_code == 422 and not _is_issues(detail):
        detail = [issue(str(detail))]
    elif exc.status_code != 422 and not isinstance(detail, str):
        detail = str(detail)
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=headers)


class UnexpectedErrors:
    """ASGI middleware: an exception no handler answered is logged once with its stack trace
    and an error id, and answered 500 with the id only.

    Starlette's own handler for `Exception` re-raises after answering (the server then logs it
    a second time, through the standard library), hence a middleware. It sits outside the
    others, so `BodyLimit` still sees its own exception."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except ConnectionFailure as exc:
            # An outage, not a bug: the client is told to come back (a retry is safe: writes are
            # idempotent), and the operators see the outage in the database's own alerts.
            log.warning("http.database_unreachable", method=scope.get("method"), error=str(exc))
            if started:
                return
            answer = JSONResponse(
                {"detail": "the database is out of reach for now; try again shortly"},
                status_code=503,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
            await answer(scope, receive, send)
        except Exception:
            error_id = uuid.uuid4().hex
            route = scope.get("route")
            # The route's template, not the path: a path may hold a signed link's token.
            log.exception(
                "http.unexpected_error",
                error_id=error_id,
                method=scope.get("method"),
                route=getattr(route, "path", None) or "(no route)",
            )
            if started:
                return  # The answer is under way: the client sees it cut short.
            answer = JSONResponse({"detail": UNEXPECTED, "error_id": error_id}, status_code=500)
            await answer(scope, receive, send)


def install(app: FastAPI) -> None:
    """Answer HTTP exceptions in the one shape; FastAPI's own validation answers keep theirs.
    (`UnexpectedErrors` is added by `Service.seal`, last, so that it is the outermost.)"""
    app.add_exception_handler(StarletteHTTPException, _http_error)


def _takes_body(route: APIRoute) -> bool:
    declared = "requestBody" in (route.openapi_extra or {})
    return route.body_field is not None or declared


def _has_inputs(route: APIRoute) -> bool:
    flat = [route.dependant]
    while flat:
        dependant = flat.pop()
        if dependant.query_params or dependant.path_params or dependant.header_params:
            return True
        if dependant.cookie_params or dependant.body_params:
            return True
        flat.extend(dependant.dependencies)
    return _takes_body(route)


def document(app: FastAPI) -> None:
    """Write every error answer each route can give into the OpenAPI document, each with its
    model: 500 everywhere; 400 and 413 where a body is taken; 422 as `Unprocessable` wherever
    parameters or a body are read (in place of FastAPI's own schema of the same shape); every
    other error as `Problem`. Run after `access.enforce`, which adds the access rules' answers."""
    # access's walk of the routes, included routers' too (one walk for both documents).
    for route in access._routes(app.routes):
        if not isinstance(route, APIRoute):
            continue
        answers = route.responses
        for code, answer in list(answers.items()):
            if _is_error(code) and answer.get("model") in (None, access.Problem):
                answers[code] = {**answer, "model": _model_of(code)}
        if 422 in answers or _has_inputs(route):
            answers[422] = {
                "description": _DESCRIPTIONS[422],
                **answers.get(422, {}),
                "model": Unprocessable,
            }
        if _takes_body(route):
            answers.setdefault(400, {"description": _DESCRIPTIONS[400], "model": Problem})
        if _takes_body(route) or (route.methods or set()) & {"POST", "PUT", "PATCH"}:
            answers.setdefault(413, {"description": _DESCRIPTIONS[413], "model": Problem})
        answers.setdefault(500, {"description": _DESCRIPTIONS[500], "model": InternalError})
        answers.setdefault(503, {"description": _DESCRIPTIONS[503], "model": Problem})
        _model_fields(route)
    app.openapi_schema = None
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _json_errors(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _json_errors(document: dict[str, Any]) -> dict[str, Any]:
    """Error answers are JSON on every route: FastAPI documents each answer in its route's
    media type, which on a page, a stream or `/metrics` is not the errors' one."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            for code, answer in operation.get("responses", {}).items():
                content = answer.get("content")
                if not _is_error(code) or not content or "application/json" in content:
                    continue
                schema = next(iter(content.values())).get("schema")
                answer["content"] = {"application/json": {"schema": schema} if schema else {}}
    return document


def _model_fields(route: APIRoute) -> None:
    """What FastAPI derives from `responses` when it builds a route, derived again: a route on
    the app itself keeps the fields it was built with, and would document no schema for the
    answers added since (an included router's routes derive theirs afresh)."""
    route.response_fields = {
        code: create_model_field(
            name=f"Response_{code}_{route.unique_id}", type_=answer["model"], mode="serialization"
        )
        for code, answer in route.responses.items()
        if answer.get("model") is not None
    }


def _is_error(code: int | str) -> bool:
    return str(code).isdigit() and int(code) >= 400


def _model_of(code: int | str) -> type[BaseModel]:
    models: dict[int, type[BaseModel]] = {422: Unprocessable, 500: InternalError}
    return models.get(int(code), Problem)
