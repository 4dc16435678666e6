"""Sending email: the `EmailSender` port and its SMTP adapter (aiosmtplib), with retries."""

from __future__ import annotations

import asyncio
import re
import unicodedata
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Protocol

import aiosmtplib

from shared.ids import derived_id
from shared.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class OutgoingEmail:
    to_address: str
    to_name: str
    subject: str
    text: str
    #: The delivery it belongs to; gives the mail a stable Message-ID, so a resent copy of the
    #: same delivery is recognisable as a duplicate by mail clients.
    delivery_key: str
    #: The HTML alternative of `text`, if any.
    html: str | None = None
    #: The language it is written in, for the Content-Language header.
    language: str = "en"


#: RFC 5646 language tags, loosely: `fa`, `el`, `pt-BR`.
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*")


def _one_line(text: str) -> str:
    """A header value never carries line breaks or control characters (header injection)."""
    return " ".join("".join(" " if unicodedata.category(c) == "Cc" else c for c in text).split())


class DeliveryFailed(Exception):
    """The email could not be sent; `attempts` says how many tries were made, `permanent`
    whether the relay refused it for good (a 5xx: unknown mailbox, refused sender)."""

    def __init__(self, error: str, attempts: int, *, permanent: bool = False) -> None:
        super().__init__(error)
        self.error = error
        self.attempts = attempts
        self.permanent = permanent


class EmailSender(Protocol):
    async def send(self, mail: OutgoingEmail) -> int:
        """Send the mail and return the tries it took; raise `DeliveryFailed` when giving up."""
        ...


def build_message(mail: OutgoingEmail, sender: str) -> EmailMessage:
    """A UTF-8 message, plain text or text + HTML alternatives; non-ASCII headers are encoded."""
    message = EmailMessage()
    message["From"] = formataddr(("Help desk", sender))
    message["To"] = formataddr((_one_line(mail.to_name), mail.to_address))
    message["Subject"] = _one_line(mail.subject)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = sender.rpartition("@")[2] or "helpdesk.invalid"
    message["Message-ID"] = f"<{derived_id('email', mail.delivery_key)}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.text, charset="utf-8")
    if mail.html is not None:
        # Turns the message into multipart/alternative; clients show the last part they can.
        message.add_alternative(mail.html, subtype="html", charset="utf-8")
    # After the content: setting content drops the Content-* headers set before it.
    if _LANGUAGE_TAG.fullmatch(mail.language):
        message["Content-Language"] = mail.language
    return message


def _is_permanent(exc: Exception) -> bool:
    """A 5xx answer (unknown mailbox, refused sender) will be the same on every try."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(500 <= r.code < 600 for r in exc.recipients)
    return isinstance(exc, aiosmtplib.SMTPResponseException) and 500 <= exc.code < 600


class SmtpEmailSender:
    """Sends through one SMTP relay, retrying connection failures and 4xx answers with backoff."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        timeout: float,
        attempts: int,
        backoff_seconds: float,
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._timeout = timeout
        self._attempts = max(1, attempts)
        self._backoff = backoff_seconds

    async def send(self, mail: OutgoingEmail) -> int:
        message = build_message(mail, self._sender)
        error = "not sent"
        for attempt in range(1, self._attempts + 1):
            try:
                await aiosmtplib.send(
                    message,
                    hostname=self._host,
                    port=self._port,
                    timeout=self._timeout,
                )
                return attempt
            except (aiosmtplib.SMTPException, OSError) as exc:
                error = f"{type(exc).__name__}: {exc}"
                if _is_permanent(exc):
                    raise DeliveryFailed(error, attempt, permanent=True) from exc
                log.warning("email.retry", attempt=attempt, to=mail.to_address, error=error)
                if attempt < self._attempts:
                    await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
        raise DeliveryFailed(error, self._attempts)
