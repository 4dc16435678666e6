"""Adapter request signatures, agent tokens and the FastAPI dependencies that enforce them."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
import jwt
import pytest
from fastapi import Depends, FastAPI
from pydantic import BaseModel, SecretStr

from services.intake.auth import (
    BadSignature,
    adapter_dependency,
    sign_request,
    verify_request,
)
from services.intake.tokens import UnknownAgent, issue_agent_token
from shared.agent_tokens import AgentTokens, BadToken, agent_dependency
from shared.clock import FakeClock

ADAPTER_SECRETS = {"mail-gateway": "gateway-secret", "chat-widget": "widget-secret"}
TOKEN_SECRET = "s" * 32
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
BODY = b'{"contact_id": "mail-1"}'
CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


def signed(body: bytes = BODY, timestamp: int = int(NOW.timestamp())) -> dict[str, str]:
    return sign_request("gateway-secret", body, timestamp, adapter="mail-gateway")


def verify(headers: dict[str, str], body: bytes = BODY, now: float = NOW.timestamp()) -> str:
    return verify_request(ADAPTER_SECRETS, headers, body, now, tolerance_seconds=300)


# Adapter signatures


def test_a_signed_request_verifies_as_its_adapter() -> None:
    assert verify(signed()) == "mail-gateway"


def test_header_names_are_case_insensitive() -> None:
    assert verify({name.lower(): value for name, value in signed().items()}) == "mail-gateway"


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"gateway-secret", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    headers = sign_request("gateway-secret", BODY, 1_700_000_000, adapter="mail-gateway")
    assert headers["X-Helpdesk-Signature"] == f"sha256={expected}"
    assert headers["X-Helpdesk-Timestamp"] == "1700000000"


@pytest.mark.parametrize(
    "missing", ["X-Helpdesk-Adapter", "X-Helpdesk-Timestamp", "X-Helpdesk-Signature"]
)
def test_a_missing_header_is_named(missing: str) -> None:
    headers = signed()
    del headers[missing]
    with pytest.raises(BadSignature, match=f"missing header {missing}"):
        verify(headers)


def test_an_unknown_adapter_is_refused() -> None:
    headers = {**signed(), "X-Helpdesk-Adapter": "fax-machine"}
    with pytest.raises(BadSignature, match="unknown adapter 'fax-machine'"):
        verify(headers)


@pytest.mark.parametrize("stamp", ["yesterday", "1.5e9", "-1700000000", "١٧٠٠"])
def test_a_timestamp_that_is_not_unix_seconds_is_refused(stamp: str) -> None:
    with pytest.raises(BadSignature, match="is not a number of unix seconds"):
        verify({**signed(), "X-Helpdesk-Timestamp": stamp})


@pytest.mark.parametrize("age", [301, -301, 86_400])
def test_a_replay_outside_the_tolerance_is_refused(age: int) -> None:
    headers = signed(timestamp=int(NOW.timestamp()) - age)
    with pytest.raises(BadSignature, match="outside the 300s tolerance"):
        verify(headers)


def test_a_request_inside_the_tolerance_is_accepted() -> None:
    assert verify(signed(timestamp=int(NOW.timestamp()) - 299)) == "mail-gateway"


@pytest.mark.parametrize("signature", ["abc", "sha1=" + "0" * 64, "sha256=" + "z" * 64, "sha256="])
def test_a_malformed_signature_is_refused(signature: str) -> None:
    with pytest.raises(BadSignature, match="signature malformed"):
        verify({**signed(), "X-Helpdesk-Signature": signature})


def test_a_tampered_body_does_not_match() -> None:
    with pytest.raises(BadSignature, match="signature does not match"):
        verify(signed(), body=BODY.replace(b"mail-1", b"mail-2"))


def test_a_moved_timestamp_does_not_match() -> None:
    headers = {**signed(), "X-Helpdesk-Timestamp": str(int(NOW.timestamp()) + 1)}
    with pytest.raises(BadSignature, match="signature does not match"):
        verify(headers)


def test_another_adapters_secret_does_not_match() -> None:
    headers = sign_request("widget-secret", BODY, int(NOW.timestamp()), adapter="mail-gateway")
    with pytest.raises(BadSignature, match="signature does not match"):
        verify(headers)


# Agent tokens


def test_a_token_names_its_agent_until_it_expires() -> None:
    tokens = AgentTokens(TOKEN_SECRET)
    token = tokens.issue("ag-nika", ttl=timedelta(hours=8), now=NOW)
    assert tokens.verify(token, NOW + timedelta(hours=7, minutes=59)) == "ag-nika"
    with pytest.raises(BadToken, match="expired"):
        tokens.verify(token, NOW + timedelta(hours=8))


def test_a_token_carries_sub_iss_iat_and_exp() -> None:
    token = AgentTokens(TOKEN_SECRET).issue("ag-nika", ttl=timedelta(days=1), now=NOW)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims == {
        "sub": "ag-nika",
        "iss": "helpdesk",
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + timedelta(days=1)).timestamp()),
    }


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = AgentTokens("x" * 32).issue("ag-nika", ttl=timedelta(hours=1), now=NOW)
    with pytest.raises(BadToken, match="bad signature"):
        AgentTokens(TOKEN_SECRET).verify(token, NOW)


def test_a_token_from_another_issuer_is_refused() -> None:
    token = AgentTokens(TOKEN_SECRET, issuer="elsewhere").issue(
        "ag-nika", ttl=timedelta(hours=1), now=NOW
    )
    with pytest.raises(BadToken, match="wrong issuer"):
        AgentTokens(TOKEN_SECRET).verify(token, NOW)


def test_a_token_without_subject_is_refused() -> None:
    exp = int((NOW + timedelta(hours=1)).timestamp())
    claims = {"iss": "helpdesk", "iat": int(NOW.timestamp()), "exp": exp}
    token = jwt.encode(claims, TOKEN_SECRET, algorithm="HS256")
    with pytest.raises(BadToken, match="missing subject"):
        AgentTokens(TOKEN_SECRET).verify(token, NOW)


def test_a_token_without_expiry_is_refused() -> None:
    claims = {"sub": "ag-nika", "iss": "helpdesk", "iat": int(NOW.timestamp())}
    token = jwt.encode(claims, TOKEN_SECRET, algorithm="HS256")
    with pytest.raises(BadToken, match="exp"):
        AgentTokens(TOKEN_SECRET).verify(token, NOW)


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", ""])
def test_a_malformed_token_is_refused(token: str) -> None:
    with pytest.raises(BadToken, match="malformed"):
        AgentTokens(TOKEN_SECRET).verify(token, NOW)


def test_an_unsigned_token_is_refused() -> None:
    claims = {"sub": "ag-nika", "iss": "helpdesk", "iat": 0, "exp": 2**40}
    token = jwt.encode(claims, None, algorithm="none")
    with pytest.raises(BadToken):
        AgentTokens(TOKEN_SECRET).verify(token, NOW)


def test_a_short_secret_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        AgentTokens("s" * 31)


# Issuing from the settings and the directory


@dataclass
class TokenConfig:
    config_dir: Path
    agent_token_secret: SecretStr | None
    agent_token_days: int


def token_config() -> TokenConfig:
    return TokenConfig(CONFIG_DIR, SecretStr(TOKEN_SECRET), agent_token_days=30)


def test_issued_token_is_for_a_directory_agent_and_lasts_the_configured_days() -> None:
    token = issue_agent_token(token_config(), "ag-nika", now=NOW)
    tokens = AgentTokens(TOKEN_SECRET)
    assert tokens.verify(token, NOW + timedelta(days=29)) == "ag-nika"
    with pytest.raises(BadToken, match="expired"):
        tokens.verify(token, NOW + timedelta(days=30))


def test_issued_token_days_can_be_overridden() -> None:
    token = issue_agent_token(token_config(), "ag-john", days=2, now=NOW)
    with pytest.raises(BadToken, match="expired"):
        AgentTokens(TOKEN_SECRET).verify(token, NOW + timedelta(days=2))


def test_no_token_without_a_configured_secret() -> None:
    config = TokenConfig(CONFIG_DIR, agent_token_secret=None, agent_token_days=30)
    with pytest.raises(ValueError, match="HELPDESK_AGENT_TOKEN_SECRET"):
        issue_agent_token(config, "ag-nika", now=NOW)


def test_no_token_for_someone_not_in_the_directory() -> None:
    with pytest.raises(UnknownAgent, match="no one called 'ag-nobody'"):
        issue_agent_token(token_config(), "ag-nobody", now=NOW)


# FastAPI dependencies (this module has no `from __future__ import annotations`: FastAPI must
# see the dependencies in the endpoints' annotations, which are closures inside `api`.)


class Contact(BaseModel):
    contact_id: str


def api(adapter_secrets: dict[str, str], clock: FakeClock) -> FastAPI:
    app = FastAPI()
    current_agent = agent_dependency(AgentTokens(TOKEN_SECRET), clock)
    signed_adapter = adapter_dependency(adapter_secrets, 300, clock)

    @app.get("/me")
    async def me(agent: Annotated[str, Depends(current_agent)]) -> dict[str, str]:
        return {"agent": agent}

    @app.post("/contacts")
    async def contacts(
        contact: Contact, adapter: Annotated[str, Depends(signed_adapter)]
    ) -> dict[str, str]:
        return {"adapter": adapter, "contact_id": contact.contact_id}

    return app


async def call(
    app: FastAPI, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://intake", headers={"Content-Type": "application/json"}
    ) as client:
        return await client.request(method, path, headers=headers, **kwargs)


async def test_agent_dependency_gives_the_agent_of_a_valid_token() -> None:
    clock = FakeClock(NOW)
    token = AgentTokens(TOKEN_SECRET).issue("ag-olga", ttl=timedelta(hours=1), now=NOW)
    response = await call(
        api({}, clock), "GET", "/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert response.json() == {"agent": "ag-olga"}


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (None, "missing Authorization header"),
        ("Basic YWdlbnQ6cGFzcw==", "Authorization must be 'Bearer <token>'"),
        ("Bearer not-a-jwt", "agent token refused: malformed token"),
    ],
)
async def test_agent_dependency_answers_401_with_the_reason(
    authorization: str | None, message: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await call(api({}, FakeClock(NOW)), "GET", "/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["detail"].startswith(message)


async def test_agent_dependency_refuses_an_expired_token() -> None:
    clock = FakeClock(NOW)
    token = AgentTokens(TOKEN_SECRET).issue("ag-olga", ttl=timedelta(hours=1), now=NOW)
    clock.advance(timedelta(hours=1))
    response = await call(
        api({}, clock), "GET", "/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401
    assert response.json()["detail"] == "agent token refused: expired"


async def test_adapter_dependency_gives_the_adapter_and_leaves_the_body_readable() -> None:
    response = await call(
        api(ADAPTER_SECRETS, FakeClock(NOW)), "POST", "/contacts", content=BODY, headers=signed()
    )
    assert response.status_code == 200
    assert response.json() == {"adapter": "mail-gateway", "contact_id": "mail-1"}


async def test_adapter_dependency_answers_401_for_a_tampered_body() -> None:
    response = await call(
        api(ADAPTER_SECRETS, FakeClock(NOW)),
        "POST",
        "/contacts",
        content=b'{"contact_id": "mail-2"}',
        headers=signed(),
    )
    assert response.status_code == 401
    assert (
        response.json()["detail"] == "adapter signature refused: signature does not match the body"
    )


async def test_adapter_dependency_answers_401_for_a_replay() -> None:
    clock = FakeClock(NOW + timedelta(minutes=10))
    response = await call(
        api(ADAPTER_SECRETS, clock), "POST", "/contacts", content=BODY, headers=signed()
    )
    assert response.status_code == 401
    assert "outside the 300s tolerance" in response.json()["detail"]


async def test_adapter_dependency_answers_401_for_unsigned_requests_when_signing_is_on() -> None:
    response = await call(api(ADAPTER_SECRETS, FakeClock(NOW)), "POST", "/contacts", content=BODY)
    assert response.status_code == 401
    assert (
        response.json()["detail"] == "adapter signature refused: missing header X-Helpdesk-Adapter"
    )


async def test_without_adapter_secrets_signing_is_off() -> None:
    response = await call(api({}, FakeClock(NOW)), "POST", "/contacts", content=BODY)
    assert response.status_code == 200
    assert response.json()["adapter"] == "unsigned"
