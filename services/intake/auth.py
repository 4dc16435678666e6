"""Who may post contacts to intake: channel adapters sign their requests.

Adapters sign like GitHub or Stripe webhooks (HMAC-SHA256 over the timestamp and the body);
agents' tokens are in `shared.agent_tokens`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Mapping

from fastapi import Request

from shared.agent_tokens import unauthorized
from shared.clock import Clock, SystemClock

ADAPTER_HEADER = "X-Helpdesk-Adapter"
TIMESTAMP_HEADER = "X-Helpdesk-Timestamp"
SIGNATURE_HEADER = "X-Helpdesk-Signature"
SIGNATURE_PREFIX = "sha256="
UNSIGNED_ADAPTER = "unsigned"


class BadSignature(ValueError):
    """An adapter request whose signature headers are missing, stale or wrong."""


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
            raise unauthorized(f"adapter signature refused: {exc}", bearer=False) from exc

    return signed_adapter
