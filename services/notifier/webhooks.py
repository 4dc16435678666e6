"""Calling chat tools' webhooks with httpx: signed bodies, one deadline per call, a connection
cap per host, and only to addresses the `AddressGuard` allows (checked on each connection).
Receivers drop repeats by `X-Helpdesk-Delivery`."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from services.notifier.domain.addresses import AddressPolicy
from services.notifier.domain.chat import (
    WebhookTarget,
    retry_after_seconds,
    signature_headers,
)
from services.notifier.egress import AddressGuard, AddressRefused, GuardedTransport
from shared.logging import get_logger

log = get_logger(__name__)

_RETRYABLE = frozenset({408, 425, 429})
#: Bytes of an answer read before the connection is given up rather than reused.
_ANSWER_LIMIT = 64 * 1024


class WebhookFailure(Exception):
    """A delivery that did not succeed; `permanent` ones will fail the same way on every try."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.status = status
        self.retry_after = retry_after


class WebhookSender:
    """Posts signed bodies over one shared connection pool, within `timeout` seconds in all,
    connecting only where `guard` allows (default: public addresses only); `ssl_context`
    (default: certifi's authorities, as httpx's) checks the endpoints' certificates."""

    def __init__(
        self,
        guard: AddressGuard | None = None,
        *,
        timeout: float = 10.0,
        max_connections: int = 200,
        per_host_connections: int = 10,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._timeout = timeout
        limits = httpx.Limits(max_connections=max_connections, keepalive_expiry=30)
        guard = guard or AddressGuard(AddressPolicy())
        self._client = httpx.AsyncClient(
            transport=GuardedTransport(guard, limits=limits, ssl_context=ssl_context),
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            trust_env=False,
        )
        # httpx only limits the whole pool; a cap per host leaves room for the others when
        # one endpoint is slow and every delivery to it sits waiting.
        self._per_host = per_host_connections
        self._slots: dict[str, asyncio.Semaphore] = {}

    @asynccontextmanager
    async def _slot(self, url: httpx.URL) -> AsyncIterator[None]:
        origin = f"{url.scheme}://{url.host}:{url.port}"
        slot = self._slots.setdefault(origin, asyncio.Semaphore(self._per_host))
        async with slot:
            yield

    async def send(
        self, target: WebhookTarget, body: bytes, *, delivery_key: str, now: float
    ) -> int:
        """The HTTP status of a 2xx answer; `WebhookFailure` for anything else."""
        if not target.active:
            raise WebhookFailure(f"webhook {target.name} is inactive", permanent=True)
        url = httpx.URL(str(target.url))
        secret = target.secret.get_secret_value()
        headers = signature_headers(secret, body, timestamp=int(now), delivery_key=delivery_key)
        status: int | None = None
        retry_after: str | None = None
        try:
            # One deadline over pool wait, connect, write and read: httpx's own timeouts are per
            # phase, and a server trickling a byte at a time would never trip them.
            async with asyncio.timeout(self._timeout), self._slot(url):
                async with self._client.stream(
                    "POST", url, content=body, headers=headers, follow_redirects=False
                ) as response:
                    status = response.status_code
                    retry_after = response.headers.get("retry-after")
                    # Read the (small) answer so the connection goes back to the pool.
                    received = 0
                    async for chunk in response.aiter_raw():
                        received += len(chunk)
                        if received > _ANSWER_LIMIT:
                            break
        except AddressRefused as exc:
            log.warning("webhook_refused", target=target.name, reason=str(exc))
            raise WebhookFailure(f"webhook {target.name} refused: {exc}", permanent=True) from exc
        except (TimeoutError, httpx.TimeoutException) as exc:
            # Once the status line is in, a slow or broken body changes nothing about the outcome.
            if status is None:
                log.warning("webhook_timeout", target=target.name, delivery_key=delivery_key)
                raise WebhookFailure(
                    f"webhook {target.name} gave no answer within {self._timeout:g} s",
                    permanent=False,
                ) from exc
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            # The message, not the URL: a chat tool's webhook URL often holds its own token.
            raise WebhookFailure(
                f"webhook {target.name} has an unusable URL ({type(exc).__name__})", permanent=True
            ) from exc
        except httpx.TransportError as exc:
            if status is None:
                log.warning("webhook_unreachable", target=target.name, error=type(exc).__name__)
                raise WebhookFailure(
                    f"webhook {target.name} unreachable: {type(exc).__name__}: {exc}",
                    permanent=False,
                ) from exc
        return _outcome(target.name, status, retry_after_seconds(retry_after, now=now))

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()


def _outcome(name: str, status: int | None, retry_after: float | None) -> int:
    if status is None:  # unreachable: every path without a status has raised
        raise WebhookFailure(f"webhook {name} gave no answer", permanent=False)
    if 200 <= status < 300:
        return status
    retryable = status in _RETRYABLE or status >= 500
    message = f"webhook {name} answered HTTP {status}"
    if retry_after is not None:
        message += f", retry after {retry_after:g} s"
    log.warning("webhook_rejected", target=name, status=status, retryable=retryable)
    raise WebhookFailure(message, permanent=not retryable, status=status, retry_after=retry_after)
