"""Where webhook calls may connect: a host's addresses resolved and checked against the
`AddressPolicy` when a webhook is registered, and again on every connection a call opens, where
the socket's peer address is checked too. A name that answered with a public address at
registration and with a private one later (DNS rebinding) is refused at the connection.

The check is an httpcore network backend under httpx's transport: httpcore still speaks TLS to
the host *name* (SNI, certificate check) over the connection to the checked address.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable

import anyio
import httpcore
import httpx

from services.notifier.domain.addresses import AddressPolicy, is_address

#: `(host, port)` -> the IP addresses the host resolves to.
Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class AddressRefused(Exception):
    """The host is, resolves only to, or connected to addresses the policy refuses. The message
    names the host and the addresses, never the URL (a chat tool's URL holds its token)."""


class Unresolvable(Exception):
    """The host name resolves to nothing (or the resolver failed)."""


class AddressGuard:
    """The policy and the resolver, shared by registration and delivery."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver = system_resolver) -> None:
        self.policy = policy
        self.resolver = resolver

    async def allowed(self, host: str, port: int) -> list[str]:
        """The host's addresses a call may connect to; `AddressRefused` when there are none,
        `Unresolvable` when the name does not resolve."""
        named = self.policy.name_refusal(host)
        if named is not None:
            raise AddressRefused(f"{host} is refused: {named}")
        if is_address(host):
            addresses = [host]
        else:
            try:
                addresses = await self.resolver(host, port)
            except OSError as exc:
                raise Unresolvable(f"{host} does not resolve: {exc}") from exc
            if not addresses:
                raise Unresolvable(f"{host} does not resolve to any address")
        refusals = {address: self.policy.refusal(address) for address in addresses}
        allowed = [address for address, why in refusals.items() if why is None]
        if not allowed:
            said = "; ".join(f"{address} is {why}" for address, why in refusals.items())
            if is_address(host):
                raise AddressRefused(f"{said}: not allowed by webhooks.allow_networks")
            raise AddressRefused(f"{host} resolves only to refused addresses ({said})")
        return allowed

    async def check_url(self, url: str) -> None:
        """Refuse a webhook URL whose host only reaches refused addresses (at registration)."""
        parsed = httpx.URL(url)
        await self.allowed(parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the guard allows, and checks the peer it got."""

    def __init__(self, guard: AddressGuard, inner: httpcore.AsyncNetworkBackend | None = None):
        self._guard = guard
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self._guard.allowed(host, port)
        except Unresolvable as exc:
            # Resolvers fail for a while too: retried like a refused connection.
            raise httpcore.ConnectError(str(exc)) from exc
        failure: Exception | None = None
        for address in addresses:
            try:
                stream = await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            peer = stream.get_extra_info("server_addr")
            why = self._guard.policy.refusal(str(peer[0])) if peer else "of no known address"
            if why is not None:
                await stream.aclose()
                shown = peer[0] if peer else "?"
                raise AddressRefused(f"{host} connected to {shown}, which is {why}")
            return stream
        assert failure is not None  # `allowed` never returns an empty list
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("webhooks are never called over a Unix socket")

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport (no proxies from the environment: a proxy would connect for us) over
    a connection pool whose every connection goes through `GuardedBackend`."""

    def __init__(
        self,
        guard: AddressGuard,
        *,
        limits: httpx.Limits,
        ssl_context: ssl.SSLContext | None = None,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(guard, inner),
        )
