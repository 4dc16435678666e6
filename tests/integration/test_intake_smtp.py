"""Intake's SMTP server against a real SMTP client: replies, codes and what reaches submit."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from services.intake.rejections import Rejected
from services.intake.smtp import SmtpEnvelope, SmtpIntake

pytestmark = pytest.mark.integration

SUPPORT = "support@helpdesk.example"
MAX_BYTES = 4_000


@dataclass
class Outcome:
    """What submit answers next, and every message it was given."""

    received: list[tuple[bytes, SmtpEnvelope]] = field(default_factory=list)
    answer: Rejected | None = None
    broken: bool = False

    async def submit(self, raw: bytes, envelope: SmtpEnvelope) -> Rejected | None:
        if self.broken:
            raise ConnectionError("broker unreachable")
        self.received.append((raw, envelope))
        return self.answer


@pytest.fixture
async def smtp() -> AsyncIterator[tuple[SmtpIntake, Outcome]]:
    outcome = Outcome()
    server = SmtpIntake(
        outcome.submit,
        support_addresses=[SUPPORT, "Billing@Helpdesk.example"],
        host="127.0.0.1",
        port=0,
        max_message_bytes=MAX_BYTES,
        max_recipients=3,
        hostname="intake.test",
    )
    await server.start()
    try:
        yield server, outcome
    finally:
        await server.stop()


def message(body: str, *, to: str = SUPPORT) -> str:
    return f"From: Ana <ana@example.com>\r\nTo: {to}\r\nSubject: Wi-Fi drops\r\n\r\n{body}\r\n"


async def send(
    port: int, raw: str, *, to: str = SUPPORT, use_helo: bool = False
) -> dict[str, tuple[int, bytes]]:
    def talk() -> dict[str, tuple[int, bytes]]:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            if use_helo:
                # Plain HELO: the client never learns the SIZE limit, so only DATA can refuse.
                client.helo("client.test")
            return client.sendmail("ana@example.com", [to], raw)

    return await asyncio.to_thread(talk)


async def test_accepted_mail_reaches_submit_byte_exact(
    smtp: tuple[SmtpIntake, Outcome],
) -> None:
    server, outcome = smtp
    raw = message("My wifi keeps dropping.\r\n.a line starting with a dot\r\nThanks")
    assert await send(server.port, raw) == {}
    [(received, envelope)] = outcome.received
    assert received == raw.encode()
    assert envelope.mail_from == "ana@example.com"
    assert envelope.recipients == (SUPPORT,)
    assert envelope.peer.startswith("127.0.0.1:")


async def test_accepted_reply_names_the_queue_id(smtp: tuple[SmtpIntake, Outcome]) -> None:
    server, _ = smtp

    def talk() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            client.ehlo("client.test")
            client.mail("ana@example.com")
            client.rcpt(SUPPORT)
            return client.data(message("hello"))

    code, reply = await asyncio.to_thread(talk)
    assert code == 250
    assert reply.startswith(b"2.0.0 Queued as ")


async def test_ehlo_advertises_the_size_limit(smtp: tuple[SmtpIntake, Outcome]) -> None:
    server, _ = smtp

    def talk() -> str | None:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            client.ehlo("client.test")
            return client.esmtp_features.get("size")

    assert await asyncio.to_thread(talk) == str(MAX_BYTES)


@pytest.mark.parametrize(
    "recipient",
    [
        "support+billing-question@helpdesk.example",
        "SUPPORT@HelpDesk.Example",
        "billing@helpdesk.example",
    ],
)
async def test_plus_addressing_and_case_reach_a_support_address(
    smtp: tuple[SmtpIntake, Outcome], recipient: str
) -> None:
    server, outcome = smtp
    assert await send(server.port, message("hi", to=recipient), to=recipient) == {}
    assert outcome.received[0][1].recipients == (recipient,)


async def test_unknown_recipient_is_refused_with_550(smtp: tuple[SmtpIntake, Outcome]) -> None:
    server, outcome = smtp
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        await send(server.port, message("hi"), to="sales@helpdesk.example")
    code, reply = refused.value.recipients["sales@helpdesk.example"]
    assert code == 550
    assert b"5.1.1 <sales@helpdesk.example>: no such support address" in reply
    assert outcome.received == []


async def test_recipients_beyond_the_limit_are_deferred_with_452(
    smtp: tuple[SmtpIntake, Outcome],
) -> None:
    server, outcome = smtp
    recipients = [f"support+{i}@helpdesk.example" for i in range(5)]

    def talk() -> dict[str, tuple[int, bytes]]:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            return client.sendmail("ana@example.com", recipients, message("hi"))

    refused = await asyncio.to_thread(talk)
    assert {to: code for to, (code, _) in refused.items()} == {
        recipients[3]: 452,
        recipients[4]: 452,
    }
    assert refused[recipients[3]][1] == b"4.5.3 Too many recipients"
    assert outcome.received[0][1].recipients == tuple(recipients[:3])


async def test_a_line_over_1000_octets_is_refused_with_500_5_5_2(
    smtp: tuple[SmtpIntake, Outcome],
) -> None:
    server, outcome = smtp
    with pytest.raises(smtplib.SMTPDataError) as refused:
        await send(server.port, message("x" * 1200), use_helo=True)
    assert refused.value.smtp_code == 500
    error: bytes | str = refused.value.smtp_error
    raw = error if isinstance(error, bytes) else error.encode()
    assert raw.startswith(b"5.5.2 Line too long")
    assert outcome.received == []


async def test_a_command_line_over_the_limit_is_refused_with_500_5_5_2(
    smtp: tuple[SmtpIntake, Outcome],
) -> None:
    server, _ = smtp

    def talk() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            return client.docmd("NOOP", "x" * 1100)

    code, reply = await asyncio.to_thread(talk)
    assert code == 500 and reply.startswith(b"5.5.2 Line too long")


async def test_declared_oversize_is_refused_at_mail_from_with_552(
    smtp: tuple[SmtpIntake, Outcome],
) -> None:
    server, outcome = smtp
    # smtplib declares SIZE= on MAIL FROM once EHLO advertised it, so the refusal comes early.
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        await send(server.port, message("x" * 70 + "\r\n") * 100)
    assert refused.value.smtp_code == 552
    assert refused.value.smtp_error == b"5.3.4 Message too big"
    assert outcome.received == []


async def test_undeclared_oversize_is_refused_during_data_with_552(
    smtp: tuple[SmtpIntake, Outcome],
) -> None:
    server, outcome = smtp
    with pytest.raises(smtplib.SMTPDataError) as refused:
        await send(server.port, message("x" * 70 + "\r\n") * 100, use_helo=True)
    assert refused.value.smtp_code == 552
    assert refused.value.smtp_error == b"5.3.4 Message too big"
    assert outcome.received == []


async def test_a_refused_contact_bounces_with_550_and_its_reason(
    smtp: tuple[SmtpIntake, Outcome],
) -> None:
    server, outcome = smtp
    outcome.answer = Rejected("empty_contact", "no text in the message")
    with pytest.raises(smtplib.SMTPDataError) as refused:
        await send(server.port, message(""))
    assert refused.value.smtp_code == 550
    assert refused.value.smtp_error == b"5.6.0 empty_contact: no text in the message"


@pytest.mark.parametrize("kind", ["auto_reply", "bounce", "mail_loop"])
async def test_automatic_mail_is_accepted_silently_never_bounced(
    smtp: tuple[SmtpIntake, Outcome], kind: str
) -> None:
    server, outcome = smtp
    outcome.answer = Rejected(kind, "out of office")  # type: ignore[arg-type]
    assert await send(server.port, message("I am away")) == {}
    assert len(outcome.received) == 1


async def test_a_failing_submit_asks_the_sender_to_retry_with_451(
    smtp: tuple[SmtpIntake, Outcome],
) -> None:
    server, outcome = smtp
    outcome.broken = True
    with pytest.raises(smtplib.SMTPDataError) as deferred:
        await send(server.port, message("hi"))
    assert deferred.value.smtp_code == 451
    assert deferred.value.smtp_error == (
        b"4.3.0 Temporarily unable to accept the message; try again later"
    )


async def test_stop_closes_open_connections_and_the_listener() -> None:
    outcome = Outcome()
    server = SmtpIntake(
        outcome.submit,
        support_addresses=[SUPPORT],
        host="127.0.0.1",
        port=0,
        max_message_bytes=MAX_BYTES,
        hostname="intake.test",
    )
    await server.start()
    client = smtplib.SMTP(timeout=10)
    try:
        await asyncio.to_thread(client.connect, "127.0.0.1", server.port)
        await asyncio.to_thread(client.ehlo, "client.test")
    finally:
        await server.stop()
    with pytest.raises(smtplib.SMTPServerDisconnected):
        await asyncio.to_thread(client.noop)
    client.close()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", server.port)
