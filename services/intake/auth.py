"""Who may call intake's HTTP API: channel adapters sign their requests, agents carry tokens.

Adapters sign like GitHub or Stripe webhooks (HMAC-SHA256 over the timestamp and the body);
agents send a short-lived HS256 JWT as `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any

import jwt
from fastapi import HTTPException, Request, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.clock import Clock, SystemClock

ADAPTER_HEADER = "X-Helpdesk-Adapter"
TIMESTAMP_HEADER = "X-Helpdesk-Timestamp"
SIGNATURE_HEADER = "X-Helpdesk-Signature"
SIGNATURE_PREFIX = "sha256="
UNSIGNED_ADAPTER = "unsigned"
# HS256 keys shorter than the hash output are weak (RFC 7518 3.2).
MIN_SECRET_BYTES = 32
# Tolerated clock skew between intake and whoever issued a token.
CLOCK_SKEW = timedelta(seconds=60)


class BadSignature(ValueError):
    """An adapter request whose signature headers are missing, stale or wrong."""


class BadToken(ValueError):
    """An agent token that is expired, forged, malformed or for another issuer."""


def _signature(secret: str, body: bytes, timestamp: str) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign_request(secret: str, body: bytes, timestamp: int, *, adapter: str) -> dict[str, str]:
    """The headers an adapter sends with `body`, signed at `timestamp` (unix seconds)."""
    stamp = str(int(timestamp))
    return {
        ADAPTER_HEADER: adapter,
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: SIGNATURE_PREFIX + _signature(secret, body, stamp),
    }


def verify_request(
    secrets: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    tolerance_seconds: int = 300,
) -> str:
    """The name of the adapter that signed this request; raises BadSignature saying why not."""
    # HTTP header names are case-insensitive; a plain dict is not.
    lowered = {name.lower(): value for name, value in headers.items()}

    def header(name: str) -> str:
        value = lowered.get(name.lower(), "").strip()
        if not value:
            raise BadSignature(f"missing header {name}")
        return value

    adapter = header(ADAPTER_HEADER)
    timestamp = header(TIMESTAMP_HEADER)
    given = header(SIGNATURE_HEADER)
    secret = secrets.get(adapter)
    if secret is None:
        raise BadSignature(f"unknown adapter {adapter!r}")
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise BadSignature(f"timestamp {timestamp!r} is not a number of unix seconds")
    # A captured request replayed later fails here, even with a valid signature.
    skew = abs(now - int(timestamp))
    if skew > tolerance_seconds:
        raise BadSignature(
            f"timestamp is {int(skew)}s away from now, outside the {tolerance_seconds}s tolerance"
        )
    digest = given.removeprefix(SIGNATURE_PREFIX)
    if not given.startswith(SIGNATURE_PREFIX) or len(digest) != 64 or not _is_hex(digest):
        raise BadSignature("signature malformed: expected sha256=<64 hex digits>")
    if not hmac.compare_digest(digest.lower(), _signature(secret, body, timestamp)):
        raise BadSignature("signature does not match the body")
    return adapter


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


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


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")


# Module level: FastAPI resolves these string annotations in the module's globals.
_bearer = HTTPBearer(auto_error=False, description="An agent token from services.intake.tokens")


def _unauthorized(message: str, *, bearer: bool) -> HTTPException:
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
                raise _unauthorized("missing Authorization header", bearer=True)
            raise _unauthorized("Authorization must be 'Bearer <token>'", bearer=True)
        try:
            return tokens.verify(credentials.credentials, clock.now())
        except BadToken as exc:
            raise _unauthorized(f"agent token refused: {exc}", bearer=True) from exc

    return current_agent


def adapter_dependency(
    secrets: Mapping[str, str], tolerance_seconds: int = 300, clock: Clock | None = None
) -> Callable[[Request], Awaitable[str]]:
    """A FastAPI dependency giving the name of the adapter that signed the request.

    With no secrets at all, signing is off and every request is taken as from "unsigned":
    an operator's choice for adapters on a trusted network only.
    """
    clock = clock or SystemClock()
    known = dict(secrets)

    async def signed_adapter(request: Request) -> str:
        if not known:
            return UNSIGNED_ADAPTER
        # Starlette caches the body, so the endpoint still parses it afterwards.
        body = await request.body()
        try:
            return verify_request(
                known, request.headers, body, clock.now().timestamp(), tolerance_seconds
            )
        except BadSignature as exc:
            raise _unauthorized(f"adapter signature refused: {exc}", bearer=False) from exc

    return signed_adapter
