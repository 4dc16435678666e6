"""Where webhooks may point: the address policy and its allow-list in config/notifier.yaml, the
check at registration, and the check of every connection a call opens (the address resolved
then, and the socket's peer), with TLS still checking the host name."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import httpcore
import pytest
import uvicorn
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from devstack.stack import free_port
from services.notifier.config import load_config
from services.notifier.domain.addresses import AddressPolicy, WebhookRules
from services.notifier.domain.chat import WebhookTarget
from services.notifier.egress import AddressGuard, AddressRefused, GuardedBackend, Unresolvable
from services.notifier.webhooks import WebhookFailure, WebhookSender
from shared.config import ConfigError
from tests.conftest import ROOT, eventually

SECRET = "whsec-0123456789abcdef"
PUBLIC = "93.184.216.34"


def allowing(*networks: str) -> AddressPolicy:
    return AddressPolicy.of(WebhookRules.model_validate({"allow_networks": list(networks)}))


class Names:
    """A resolver with fixed answers, that counts what it was asked."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise OSError(f"no such name {host}")
        return self.answers[host]


# --- the policy ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("10.1.2.3", "private (RFC 1918)"),
        ("172.16.0.1", "private (RFC 1918)"),
        ("192.168.100.7", "private (RFC 1918)"),
        ("100.64.0.1", "shared address space (RFC 6598)"),
        ("fd12:3456::1", "unique local (RFC 4193)"),
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("169.254.169.254", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("100.100.100.200", "a cloud metadata address"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("192.0.2.10", "not a public address"),
        # IPv6 forms of IPv4 addresses are judged by the IPv4 address they reach.
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "a cloud metadata address"),
        ("64:ff9b::a00:1", "private (RFC 1918)"),
        (PUBLIC, None),
        ("2606:4700:4700::1111", None),
        ("::ffff:93.184.216.34", None),
    ],
)
def test_only_public_addresses_are_allowed_by_default(address: str, why: str | None) -> None:
    assert AddressPolicy().refusal(address) == why


def test_an_allow_list_opens_its_networks_and_nothing_else() -> None:
    policy = allowing("127.0.0.0/8", "10.8.0.0/16")
    assert policy.refusal("127.0.0.1") is None and policy.refusal("::ffff:127.0.0.1") is None
    assert policy.refusal("10.8.3.4") is None
    assert policy.refusal("10.9.0.1") == "private (RFC 1918)"
    assert policy.refusal("::1") == "loopback"
    assert policy.refusal("169.254.169.254") == "a cloud metadata address"
    assert AddressPolicy.name_refusal("Metadata.Google.Internal.") == "a cloud metadata service"
    assert AddressPolicy.name_refusal("chat.example.com") is None


def test_the_shipped_config_allows_no_network_and_a_bad_one_is_named(tmp_path: Path) -> None:
    assert load_config(ROOT / "config").ladders.webhooks.allow_networks == ()
    folder = tmp_path / "config"
    shutil.copytree(ROOT / "config", folder)
    rules = yaml.safe_load((folder / "notifier.yaml").read_text())
    rules["webhooks"] = {"allow_networks": ["127.0.0.1/8"]}  # host bits set: a typo
    (folder / "notifier.yaml").write_text(yaml.safe_dump(rules))
    with pytest.raises(ConfigError, match=r"notifier\.yaml.*webhooks\.allow_networks"):
        load_config(folder)
    rules["webhooks"] = {"allow_networks": ["127.0.0.0/8"]}
    (folder / "notifier.yaml").write_text(yaml.safe_dump(rules))
    assert [str(n) for n in load_config(folder).ladders.webhooks.allow_networks] == ["127.0.0.0/8"]


# --- registration ------------------------------------------------------------------------------


async def test_registration_refuses_hosts_that_reach_only_refused_addresses() -> None:
    names = Names(
        {
            "chat.example.com": [PUBLIC],
            "mixed.example.com": ["10.0.0.1", PUBLIC],
            "inside.example.com": ["10.0.0.1", "fd00::1"],
            "metadata.google.internal": ["169.254.169.254"],
            "empty.example.com": [],
        }
    )
    guard = AddressGuard(AddressPolicy(), names)
    await guard.check_url("https://chat.example.com/hooks/T123")
    # One public address is enough: calls connect only to the allowed ones.
    await guard.check_url("https://mixed.example.com/hooks/T123")
    assert await guard.allowed("mixed.example.com", 443) == [PUBLIC]
    with pytest.raises(AddressRefused, match=r"resolves only to refused addresses.*RFC 1918"):
        await guard.check_url("https://inside.example.com/hooks/T123")
    with pytest.raises(AddressRefused, match="cloud metadata service"):
        await guard.check_url("http://metadata.google.internal/computeMetadata/v1/")
    with pytest.raises(AddressRefused, match=r"10\.1\.1\.1 is private"):
        await guard.check_url("http://10.1.1.1:8080/hooks/T123")
    with pytest.raises(AddressRefused, match=r"::1 is loopback"):
        await guard.check_url("http://[::1]:8080/hooks/T123")
    with pytest.raises(Unresolvable):
        await guard.check_url("https://empty.example.com/hooks/T123")
    with pytest.raises(Unresolvable):
        await guard.check_url("https://nowhere.example.com/hooks/T123")
    assert "metadata.google.internal" not in names.asked
    assert "10.1.1.1" not in names.asked  # a literal address is not looked up


async def test_the_system_resolver_is_asked_by_default() -> None:
    guard = AddressGuard(AddressPolicy())
    with pytest.raises(AddressRefused, match=r"localhost resolves only to refused.*loopback"):
        await guard.check_url("http://localhost:9/hooks/T123")
    assert await AddressGuard(allowing("127.0.0.0/8", "::1/128")).allowed("localhost", 9)


# --- connections ----------------------------------------------------------------------------


async def _ok(request: Request) -> Response:
    return PlainTextResponse("ok")


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[tuple[int, list[str]]]:
    """A plain HTTP endpoint on 127.0.0.1: its port and the Host headers it received."""
    hosts: list[str] = []

    async def hook(request: Request) -> Response:
        hosts.append(request.headers.get("host", ""))
        return PlainTextResponse("ok")

    async with Serving(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as port:
        yield port, hosts


class Serving:
    def __init__(self, app: Any, **ssl: str) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=self.port,
                lifespan="off",
                log_config=None,
                timeout_graceful_shutdown=1,
                **ssl,  # type: ignore[arg-type]
            )
        )
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> int:
        self.task = asyncio.create_task(self.server.serve())
        await eventually(lambda: self.server.started, timeout=10)
        return self.port

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        assert self.task is not None
        await self.task


def target(url: str) -> WebhookTarget:
    return WebhookTarget.model_validate({"name": "ops-chat", "url": url, "secret": SECRET})


async def send(sender: WebhookSender, url: str) -> int:
    try:
        return await asyncio.wait_for(
            sender.send(target(url), b"{}", delivery_key="k", now=time.time()), 5
        )
    finally:
        await sender.aclose()


async def test_a_name_resolving_to_a_refused_address_is_refused_when_called(
    receiver: tuple[int, list[str]],
) -> None:
    port, hosts = receiver
    before = len(hosts)
    # It resolved to a public address when it was registered; it resolves to the receiver's
    # loopback address now.
    guard = AddressGuard(AddressPolicy(), Names({"chat.example.com": ["127.0.0.1"]}))
    with pytest.raises(WebhookFailure) as caught:
        await send(WebhookSender(guard), f"http://chat.example.com:{port}/hook")
    assert caught.value.permanent and caught.value.status is None
    assert "refused" in str(caught.value) and "127.0.0.1 is loopback" in str(caught.value)
    assert len(hosts) == before  # the receiver was never reached
    with pytest.raises(WebhookFailure) as literal:
        await send(WebhookSender(guard), f"http://127.0.0.1:{port}/hook")
    assert literal.value.permanent and len(hosts) == before


async def test_an_allowed_name_is_called_at_its_resolved_address_with_its_own_name(
    receiver: tuple[int, list[str]],
) -> None:
    port, hosts = receiver
    guard = AddressGuard(allowing("127.0.0.0/8"), Names({"chat.example.com": ["127.0.0.1"]}))
    assert await send(WebhookSender(guard), f"http://chat.example.com:{port}/hook") == 200
    assert hosts[-1] == f"chat.example.com:{port}"


class _Elsewhere(httpcore.AsyncNetworkBackend):
    """A network that takes every connection to 127.0.0.1, whatever address was asked for (a
    resolver, proxy or NAT between the check and the socket)."""

    def __init__(self) -> None:
        self.inner = httpcore.AnyIOBackend()
        self.asked: list[str] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.asked.append(host)
        return await self.inner.connect_tcp("127.0.0.1", port, timeout=timeout)

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise NotImplementedError

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def test_the_address_actually_connected_to_is_checked_not_only_the_name(
    receiver: tuple[int, list[str]],
) -> None:
    port, hosts = receiver
    elsewhere = _Elsewhere()
    guard = AddressGuard(AddressPolicy(), Names({"chat.example.com": [PUBLIC]}))
    backend = GuardedBackend(guard, elsewhere)
    before = len(hosts)
    with pytest.raises(AddressRefused, match=r"connected to 127\.0\.0\.1, which is loopback"):
        await backend.connect_tcp("chat.example.com", port, timeout=5)
    assert elsewhere.asked == [PUBLIC] and len(hosts) == before
    with pytest.raises(AddressRefused, match="Unix socket"):
        await backend.connect_unix_socket("/var/run/docker.sock")


def _certificate(folder: Path, name: str) -> tuple[Path, Path]:
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            f"/CN={name}",
            "-addext",
            f"subjectAltName=DNS:{name}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return key, cert


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_tls_checks_the_host_name_over_the_checked_address(tmp_path: Path) -> None:
    key, cert = _certificate(tmp_path, "chat.example.com")
    names = Names({"chat.example.com": ["127.0.0.1"], "other.example.com": ["127.0.0.1"]})
    guard = AddressGuard(allowing("127.0.0.0/8"), names)
    trusted = ssl.create_default_context(cafile=str(cert))
    app = Starlette(routes=[Route("/hook", _ok, methods=["POST"])])
    async with Serving(app, ssl_keyfile=str(key), ssl_certfile=str(cert)) as port:
        sender = WebhookSender(guard, ssl_context=trusted)
        assert await send(sender, f"https://chat.example.com:{port}/hook") == 200
        # The same address under a name the certificate does not carry: refused by TLS.
        with pytest.raises(WebhookFailure) as caught:
            await send(
                WebhookSender(guard, ssl_context=trusted), f"https://other.example.com:{port}/hook"
            )
    assert "Hostname mismatch" in str(caught.value)
