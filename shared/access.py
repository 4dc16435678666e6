"""Who may see what: the one access model every service's HTTP routes state their rule in.

People sign in with a bearer token naming them; what they may see follows from who they are in
`config/teams.yaml`, read at each request (a change of team takes effect at once):

- an **agent** sees their own and their team's tickets and queue;
- a **lead** or **manager** sees the tickets, queues and reports of the teams they lead or manage;
- an **operator** sees service-wide reports, the delivery log and the agent directory;
- **reports** are for operators (every team) and leads and managers (their teams' figures);
- **channel adapters** sign their requests with HMAC (intake's `adapter` rule);
- **customers** hold signed links, each naming what it opens (`link` rules);
- **public**: health, published knowledge-base search and articles, pages behind a signed link.

Every route states one rule as a dependency. `enforce()` finds each route's rule, writes it into
the OpenAPI document (`x-access`) with the error answers it can give, and refuses to build an
app with a route that states none. Object checks (is this ticket in the caller's teams?) are
`Person.sees_team`, called by the route once it has read the object.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Request, Security, status
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from pydantic import BaseModel, Field, SecretStr

from shared.agent_tokens import BadToken, TokenKeys, unauthorized
from shared.clock import Clock, SystemClock
from shared.directory import Directory
from shared.settings import ServiceSettings


class Rule(StrEnum):
    PUBLIC = "public"
    STAFF = "staff"
    HEADS = "heads"
    OPERATOR = "operator"
    REPORTS = "reports"
    MANAGER = "manager"
    ADAPTER = "adapter"
    LINK = "link"


#: What each rule can answer besides success, documented on every route that states it.
ANSWERS: dict[Rule, tuple[int, ...]] = {
    Rule.PUBLIC: (429,),
    Rule.STAFF: (401, 403, 503),
    Rule.HEADS: (401, 403, 503),
    Rule.OPERATOR: (401, 403, 503),
    Rule.REPORTS: (401, 403, 503),
    Rule.MANAGER: (401, 403, 503),
    Rule.ADAPTER: (401, 429),
    Rule.LINK: (401, 429, 503),
}
_DESCRIPTIONS = {
    401: "No credentials, or credentials refused (expired, forged, for another issuer).",
    403: "Authenticated, but this person may not do this.",
    404: "Not found, or not yours to see.",
    429: "Too many requests; retry after the seconds in `Retry-After`.",
    503: "Tokens are not configured on this service.",
}

_bearer = HTTPBearer(
    auto_error=False, description="A person's token (`python -m services.intake.tokens <id>`)"
)


class Problem(BaseModel):
    """Every error answer: what went wrong, in words."""

    detail: Any = Field(description="What went wrong.")


@dataclass(frozen=True)
class Person:
    """The caller, as the directory knows them now."""

    person_id: str
    #: The team the person is an agent of, if any.
    team: str | None
    #: Teams the person leads or manages.
    heads: frozenset[str]
    manages: frozenset[str]
    operator: bool

    @property
    def teams(self) -> frozenset[str]:
        """Every team whose tickets and queue the person sees."""
        return self.heads | ({self.team} if self.team else frozenset())

    @property
    def is_head(self) -> bool:
        return bool(self.heads)

    def sees_team(self, team: str | None) -> bool:
        return team is not None and team in self.teams

    def sees_ticket(self, team: str | None, assignee: str | None = None) -> bool:
        """An agent: their own tickets and their team's; a lead or manager: their teams'."""
        return assignee == self.person_id or self.sees_team(team)


def person_of(directory: Directory, person_id: str) -> Person | None:
    """Who `person_id` is in the directory; None for nobody it knows."""
    team = directory.team_of(person_id)
    heads = frozenset(
        t.name
        for t in directory.teams
        if t.manager.person_id == person_id or (t.lead and t.lead.person_id == person_id)
    )
    manages = frozenset(t.name for t in directory.teams if t.manager.person_id == person_id)
    operator = any(o.person_id == person_id for o in directory.operators)
    if team is None and not heads and not operator:
        return None
    return Person(person_id, team.name if team else None, heads, manages, operator)


def _ruled(rule: Rule, dependency: Callable[..., Any]) -> Callable[..., Any]:
    dependency.access_rule = rule  # type: ignore[attr-defined]
    return dependency


class RateLimit:
    """Requests per key (a client address, an adapter) within a moving window, per replica."""

    def __init__(self, spec: str) -> None:
        self.item: RateLimitItem = parse(spec)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def check(self, key: str) -> None:
        if await self._limiter.hit(self.item, key):
            return
        stats = await self._limiter.get_window_stats(self.item, key)
        now = SystemClock().now().timestamp()
        retry = max(1, int(stats.reset_time - now) + 1)
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many requests: {self.item} per client; retry in {retry}s",
            headers={"Retry-After": str(retry)},
        )


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class Access:
    """The rules of one service: its token keys, the directory and the rate limits."""

    def __init__(
        self,
        keys: TokenKeys | None,
        directory: Directory,
        *,
        public_limit: str = "120/minute",
        clock: Clock | None = None,
    ) -> None:
        self.keys = keys
        self.directory = directory
        self.clock = clock or SystemClock()
        self.public_limit = RateLimit(public_limit)
        self.public = _ruled(Rule.PUBLIC, self.limited(self.public_limit))
        self.staff = _ruled(Rule.STAFF, self._require(lambda p: True, "staff"))
        self.heads = _ruled(
            Rule.HEADS, self._require(lambda p: p.is_head, "a team's lead or manager")
        )
        self.operator = _ruled(Rule.OPERATOR, self._require(lambda p: p.operator, "an operator"))
        self.reports = _ruled(
            Rule.REPORTS,
            self._require(lambda p: p.operator or p.is_head, "an operator, a lead or a manager"),
        )
        self.manager = _ruled(Rule.MANAGER, self._require(lambda p: bool(p.manages), "a manager"))

    @staticmethod
    def limited(limit: RateLimit) -> Callable[[Request], Awaitable[None]]:
        """A dependency counting each request against `limit` by the client's address."""

        async def within_limit(request: Request) -> None:
            await limit.check(client_of(request))

        return within_limit

    def person_id(self, token: str) -> str:
        """The person a token names; raises 401/503 saying why not."""
        if self.keys is None:
            raise HTTPException(
                503, "person tokens are not configured: set HELPDESK_AGENT_TOKEN_SECRET"
            )
        try:
            return self.keys.verify(token, self.clock.now())
        except BadToken as exc:
            raise unauthorized(f"token refused: {exc}", bearer=True) from exc

    def person(self, token: str) -> Person:
        person = person_of(self.directory, self.person_id(token))
        if person is None:
            raise unauthorized("token names nobody in the directory", bearer=True)
        return person

    def _require(
        self, allowed: Callable[[Person], bool], who: str
    ) -> Callable[..., Awaitable[Person]]:
        async def caller(
            request: Request,
            credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
        ) -> Person:
            if credentials is None:
                if request.headers.get("Authorization") is None:
                    raise unauthorized("missing Authorization header", bearer=True)
                raise unauthorized("Authorization must be 'Bearer <token>'", bearer=True)
            person = self.person(credentials.credentials)
            if not allowed(person):
                raise HTTPException(status.HTTP_403_FORBIDDEN, f"only {who} may do this")
            return person

        return caller

    def rule(self, rule: Rule, dependency: Callable[..., Any]) -> Callable[..., Any]:
        """Mark a service's own dependency (an adapter's signature, a signed link) as the
        route's rule."""
        return _ruled(rule, dependency)


class InsecureSettings(RuntimeError):
    """Outside the local stack, a secret is missing or is a placeholder: the service refuses
    to start rather than run open or with a key anybody could guess."""


#: Words that say a secret was never set: copied from an example, or a default.
_PLACEHOLDER_WORDS = ("change", "example", "placeholder", "secret", "default", "xxxx", "todo")


def placeholder(secret: str) -> bool:
    lowered = secret.lower()
    return len(set(lowered)) < 8 or any(word in lowered for word in _PLACEHOLDER_WORDS)


def checked_secret(settings: ServiceSettings, name: str, value: SecretStr | None) -> str | None:
    """The secret's value; outside the local stack, refuse an empty or placeholder one."""
    secret = value.get_secret_value() if value is not None else ""
    if settings.environment != "local" and (not secret or placeholder(secret)):
        raise InsecureSettings(
            f"HELPDESK_{name.upper()} is {'a placeholder' if secret else 'not set'}: set a "
            "random secret of 32+ bytes (e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(48))'`), or HELPDESK_ENVIRONMENT=local on a machine "
            "of your own"
        )
    return secret or None


def token_keys(settings: ServiceSettings, issuer: str = "helpdesk") -> TokenKeys | None:
    """The service's keys for people's tokens (None: none configured, on the local stack)."""
    current = checked_secret(settings, "agent_token_secret", settings.agent_token_secret)
    if current is None:
        return None
    previous = settings.agent_token_previous_secret
    return TokenKeys(
        current,
        previous=previous.get_secret_value() if previous else None,
        previous_until=settings.agent_token_previous_until,
        issuer=issuer,
    )


def access_for(
    settings: ServiceSettings, directory: Directory, clock: Clock | None = None
) -> Access:
    """The access rules of a service, from its settings and the directory."""
    return Access(
        token_keys(settings), directory, public_limit=settings.public_rate_limit, clock=clock
    )


def rule_of(route: APIRoute | APIWebSocketRoute) -> Rule | None:
    """The access rule a route states through its dependencies, if any."""
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        call = dependant.call
        rule = getattr(call, "access_rule", None)
        if rule is not None:
            return Rule(rule)
        pending.extend(dependant.dependencies)
    return None


def _routes(routes: Iterable[Any]) -> Iterator[APIRoute | APIWebSocketRoute]:
    """Every API route, those of included routers too (FastAPI keeps an included router as one
    entry of the app's routes, with its own routes inside)."""
    for route in routes:
        if isinstance(route, APIRoute | APIWebSocketRoute):
            yield route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes)


class RouteWithoutRule(RuntimeError):
    """A route that states no access rule: the service refuses to start with it."""


def enforce(app: FastAPI) -> dict[str, Rule]:
    """Check that every route states a rule; document it (`x-access`) with its error answers
    (a route with path parameters can also answer 404).

    Returns path -> rule. Raises `RouteWithoutRule` naming every route that states none.
    """
    found: dict[str, Rule] = {}
    missing: list[str] = []
    for route in _routes(app.routes):
        rule = rule_of(route)
        methods = sorted(getattr(route, "methods", None) or {"WEBSOCKET"})
        name = f"{','.join(methods)} {route.path}"
        if rule is None:
            missing.append(name)
            continue
        found[name] = rule
        if isinstance(route, APIRoute):
            route.openapi_extra = {**(route.openapi_extra or {}), "x-access": rule.value}
            answers = (*ANSWERS[rule], *((404,) if route.dependant.path_params else ()))
            for code in answers:
                route.responses.setdefault(
                    code, {"description": _DESCRIPTIONS.get(code, "Error."), "model": Problem}
                )
    if missing:
        raise RouteWithoutRule("routes that state no access rule: " + "; ".join(missing))
    app.openapi_schema = None
    return found
