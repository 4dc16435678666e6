"""WebSocket tokens: an HMAC-SHA256 of the person id under the shared push secret."""

from __future__ import annotations

import hashlib
import hmac

from pydantic import SecretStr


def _key(secret: str | SecretStr) -> bytes:
    value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    return value.encode("utf-8")


def sign_token(secret: str | SecretStr, person_id: str) -> str:
    """The token that lets `person_id` open their push connection (hex digest)."""
    return hmac.new(_key(secret), person_id.encode("utf-8"), hashlib.sha256).hexdigest()


def verify_token(secret: str | SecretStr, person_id: str, token: str | None) -> bool:
    """Whether `token` was signed for `person_id`; compared in constant time."""
    if not token:
        return False
    expected = sign_token(secret, person_id).encode("ascii")
    # Encoding first: compare_digest refuses non-ASCII str, and a bad token must just be false.
    return hmac.compare_digest(expected, token.encode("utf-8"))
