"""Agents' bearer tokens: short-lived HS256 JWTs every service with an agents' API accepts.

An agent sends `Authorization: Bearer <token>`; the token names the agent (`sub`) and expires.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated, Any

import jwt
from fastapi import HTTPException, Request, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.clock import Clock, SystemClock

# HS256 keys shorter than the hash output are weak (RFC 7518 3.2).
MIN_SECRET_BYTES = 32
# Tolerated clock skew between a service and whoever issued a token.
CLOCK_SKEW = timedelta(seconds=60)


class BadToken(ValueError):
    """An agent token that is expired, forged, malformed or for another issuer."""


class AgentTokens:
    """Issues and checks agents' bearer tokens (HS256 JWTs with sub, iss, iat and exp)."""

    algorithm = "HS256"

    def __init__(self, secret: str, issuer: str = "helpdesk") -> None:
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"agent token secret must be at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret
        self.issuer = issuer

    def issue(self, agent_id: str, *, ttl: timedelta, now: datetime) -> str:
        if not agent_id:
            raise ValueError("agent id must not be empty")
        if ttl <= timedelta(0):
            raise ValueError("ttl must be positive")
        _require_aware(now)
        claims = {
            "sub": agent_id,
            "iss": self.issuer,
            "iat": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()),
        }
        return jwt.encode(claims, self._secret, algorithm=self.algorithm)

    def verify(self, token: str, now: datetime | None = None) -> str:
        """The agent id the token was issued to; raises BadToken saying why not."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[self.algorithm],
                issuer=self.issuer,
                # Time is checked below against `now`, which PyJWT cannot take.
                options={
                    "require": ["exp", "iat", "sub", "iss"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.MissingRequiredClaimError as exc:
            raise BadToken("missing subject" if exc.claim == "sub" else str(exc)) from exc
        except jwt.InvalidSignatureError as exc:
            raise BadToken("bad signature") from exc
        except jwt.InvalidIssuerError as exc:
            raise BadToken("wrong issuer") from exc
        except jwt.InvalidTokenError as exc:
            raise BadToken(f"malformed token: {exc}") from exc
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise BadToken("missing subject")
        if now is not None:
            _require_aware(now)
        instant = (now or SystemClock().now()).timestamp()
        expires, issued = claims["exp"], claims["iat"]
        if not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in (expires, issued)
        ):
            raise BadToken("malformed token: exp and iat must be numbers")
        if expires <= instant:
            raise BadToken("expired")
        if issued > instant + CLOCK_SKEW.total_seconds():
            raise BadToken("issued in the future")
        return subject


class TokenKeys:
    """The keys of one issuer: tokens are signed with the current one; one signed with the
    previous key is still accepted until `previous_until`, so a secret can be rotated without
    signing everybody out (set the new secret, keep the old one as previous for as long as the
    tokens it signed live, then drop it)."""

    def __init__(
        self,
        current: str,
        *,
        previous: str | None = None,
        previous_until: datetime | None = None,
        issuer: str = "helpdesk",
    ) -> None:
        self.current = AgentTokens(current, issuer)
        self.previous = AgentTokens(previous, issuer) if previous else None
        if previous_until is not None:
            _require_aware(previous_until)
        self.previous_until = previous_until
        self.issuer = issuer

    def issue(self, subject: str, *, ttl: timedelta, now: datetime) -> str:
        return self.current.issue(subject, ttl=ttl, now=now)

    def verify(self, token: str, now: datetime | None = None) -> str:
        try:
            return self.current.verify(token, now)
        except BadToken as exc:
            if self.previous is None or str(exc) != "bad signature":
                raise
            instant = now or SystemClock().now()
            if self.previous_until is not None and instant >= self.previous_until:
                raise BadToken("signed with a retired key") from exc
            return self.previous.verify(token, now)


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")


# Module level: FastAPI resolves these string annotations in the module's globals.
_bearer = HTTPBearer(
    auto_error=False, description="An agent token (`python -m services.intake.tokens <agent_id>`)"
)


def unauthorized(message: str, *, bearer: bool) -> HTTPException:
    headers = {"WWW-Authenticate": "Bearer"} if bearer else None
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers=headers)


def agent_dependency(
    tokens: AgentTokens, clock: Clock | None = None
) -> Callable[..., Awaitable[str]]:
    """A FastAPI dependency giving the calling agent's id from `Authorization: Bearer <token>`."""
    clock = clock or SystemClock()

    async def current_agent(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    ) -> str:
        if credentials is None:
            if request.headers.get("Authorization") is None:
                raise unauthorized("missing Authorization header", bearer=True)
            raise unauthorized("Authorization must be 'Bearer <token>'", bearer=True)
        try:
            return tokens.verify(credentials.credentials, clock.now())
        except BadToken as exc:
            raise unauthorized(f"agent token refused: {exc}", bearer=True) from exc

    return current_agent
