"""Intake's SMTP server: accepts mail for the support addresses and hands each message on.

It runs inside the service's own asyncio loop (no thread, no aiosmtpd Controller).
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, AnyStr

from aiosmtpd.smtp import SMTP, Envelope, Session

from services.intake.rejections import Rejected
from shared.logging import get_logger

log = get_logger(__name__)

TOO_BIG = "552 5.3.4 Message too big"
LINE_TOO_LONG = "500 5.5.2 Line too long: at most 1000 octets a line (RFC 5321 4.5.3.1.6)"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
TRY_LATER = "451 4.3.0 Temporarily unable to accept the message; try again later"
# SMTP reply lines must stay under 512 octets (RFC 5321 4.5.3.1.5).
MAX_REASON_CHARS = 400


@dataclass(frozen=True)
class SmtpEnvelope:
    """Who sent a message, to which support addresses (as the sender wrote them), from where."""

    mail_from: str
    recipients: tuple[str, ...]
    peer: str


# None means accepted and published; a Rejected says why no ticket opens.
Submit = Callable[[bytes, SmtpEnvelope], Awaitable[Rejected | None]]


def support_address_of(address: str, support_addresses: frozenset[str]) -> str | None:
    """The support address `address` reaches (case-insensitive, `support+tag@` too), or None."""
    address = address.strip().strip("<>").lower()
    if address in support_addresses:
        return address
    local, at, domain = address.rpartition("@")
    if at and "+" in local:
        base = f"{local.split('+', 1)[0]}@{domain}"
        if base in support_addresses:
            return base
    return None


def reply_text(reason: str) -> str:
    """A rejection reason made safe for one ASCII SMTP reply line."""
    flat = " ".join(reason.split())
    return flat.encode("ascii", "replace").decode("ascii")[:MAX_REASON_CHARS]


def _peer(session: Session) -> str:
    peer = session.peer
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)


class _IntakeSMTP(SMTP):
    """aiosmtpd's protocol with the size refusals in our words and enhanced status codes."""

    async def push(self, status: AnyStr) -> None:
        # aiosmtpd refuses oversize mail itself, at MAIL FROM (declared SIZE) and during DATA;
        # both replies start with "552 Error".
        if isinstance(status, str) and status.startswith("552 Error"):
            assert self.session is not None
            log.info("smtp.refused_oversize", peer=_peer(self.session), detail=status[4:])
            await super().push(TOO_BIG)
            return
        # It also refuses lines over RFC 5321's 1,000 octets (commands and text alike).
        if isinstance(status, str) and status.startswith("500") and "too long" in status:
            assert self.session is not None
            log.info("smtp.refused_long_line", peer=_peer(self.session), detail=status[4:])
            await super().push(LINE_TOO_LONG)
            return
        await super().push(status)


class _Handler:
    """aiosmtpd hooks: which recipients we take, and what becomes of a message."""

    def __init__(
        self, submit: Submit, support_addresses: frozenset[str], max_recipients: int
    ) -> None:
        self._submit = submit
        self._support_addresses = support_addresses
        self._max_recipients = max_recipients

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if len(envelope.rcpt_tos) >= self._max_recipients:
            # 452: the sender's server sends the rest in another message (RFC 5321 4.5.3.1.10).
            log.info("smtp.too_many_recipients", peer=_peer(session), limit=self._max_recipients)
            return TOO_MANY_RECIPIENTS
        if support_address_of(address, self._support_addresses) is None:
            log.info("smtp.refused_recipient", recipient=address, peer=_peer(session))
            return f"550 5.1.1 <{address}>: no such support address"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        smtp_envelope = SmtpEnvelope(
            mail_from=envelope.mail_from or "",
            recipients=tuple(envelope.rcpt_tos),
            peer=_peer(session),
        )
        context: dict[str, Any] = {
            "mail_from": smtp_envelope.mail_from,
            "recipients": list(smtp_envelope.recipients),
            "peer": smtp_envelope.peer,
            "size": len(raw),
        }
        try:
            rejected = await self._submit(raw, smtp_envelope)
        except Exception:
            # The sender's server keeps the message and retries: nothing is lost.
            log.exception("smtp.deferred", **context)
            return TRY_LATER
        if rejected is None:
            queue_id = uuid.uuid4().hex[:16]
            log.info("smtp.accepted", queue_id=queue_id, **context)
            return f"250 2.0.0 Queued as {queue_id}"
        if rejected.automatic:
            # Bouncing an auto-reply or a bounce starts a mail loop, so it is swallowed.
            log.info("smtp.swallowed_automatic", kind=rejected.kind, **context)
            return f"250 2.0.0 Accepted, not opening a ticket ({rejected.kind})"
        # A permanent refusal makes the sender's server bounce it: nothing is silently lost.
        log.info("smtp.rejected", kind=rejected.kind, detail=rejected.detail, **context)
        return f"550 5.6.0 {reply_text(rejected.reason)}"


class SmtpIntake:
    """An SMTP listener on the running loop; `port` is the bound port once started."""

    def __init__(
        self,
        submit: Submit,
        *,
        support_addresses: Iterable[str],
        host: str,
        port: int,
        max_message_bytes: int,
        max_recipients: int = 100,
        hostname: str | None = None,
    ) -> None:
        addresses = frozenset(a.strip().lower() for a in support_addresses if a.strip())
        if not addresses:
            raise ValueError("at least one support address is needed")
        if max_message_bytes < 1:
            raise ValueError("max_message_bytes must be positive")
        self._handler = _Handler(submit, addresses, max_recipients)
        self._host = host
        self.port = port
        self._max_message_bytes = max_message_bytes
        self._hostname = hostname
        self._server: asyncio.Server | None = None
        self._connections: set[_IntakeSMTP] = set()

    def _protocol(self) -> _IntakeSMTP:
        protocol = _IntakeSMTP(
            self._handler,
            data_size_limit=self._max_message_bytes,
            enable_SMTPUTF8=True,
            hostname=self._hostname,
            loop=asyncio.get_running_loop(),
        )
        # Finished sessions are pruned here, so the set only grows with live connections.
        self._connections = {c for c in self._connections if c.transport is not None}
        self._connections.add(protocol)
        return protocol

    async def start(self) -> None:
        if self._server is not None:
            return
        if self._hostname is None:
            # getfqdn may wait on DNS; once, off the loop, not once per connection.
            self._hostname = await asyncio.to_thread(socket.getfqdn)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, host=self._host, port=self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("smtp.listening", host=self._host, port=self.port)

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for connection in self._connections:
            if connection.transport is not None:
                connection.transport.close()
        self._connections.clear()
        await server.wait_closed()
        log.info("smtp.stopped", host=self._host, port=self.port)
