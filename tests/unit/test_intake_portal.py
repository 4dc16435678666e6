"""The portal's links and sessions on a fake clock: a link works once and not after its
minutes; a session ends after its hours or on sign-out; only digests are kept."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

from services.intake.config import load_rules
from services.intake.domain.portal import conversation, survey_of
from services.intake.portal import Portal
from services.intake.portal_store import MemoryPortalStore, digest
from services.intake.settings import IntakeSettings
from services.intake.store_memory import MemoryIntakeStore
from shared.clock import FakeClock
from shared.directory import load_directory
from shared.events import ContactReceived

CONFIG = Path(__file__).resolve().parents[2] / "config"


async def _nowhere(contact: ContactReceived) -> None:
    raise AssertionError("no contact expected")


def _portal(clock: FakeClock, sent: list[EmailMessage]) -> tuple[Portal, MemoryPortalStore]:
    store = MemoryIntakeStore()
    store.customers["cu-1"] = {"_id": "cu-1", "identities": ["email:ana@example.com"]}
    grants = MemoryPortalStore()

    async def send(message: EmailMessage) -> None:
        sent.append(message)

    settings = IntakeSettings(config_dir=CONFIG, environment="local")
    rules, directory = load_rules(CONFIG), load_directory(CONFIG)
    return Portal(store, grants, settings, rules, directory, _nowhere, send, clock), grants


async def test_a_link_works_once_within_its_minutes_and_only_its_digest_is_kept() -> None:
    clock, sent = FakeClock(), list[EmailMessage]()
    portal, grants = _portal(clock, sent)
    await portal.sign_in("ana@example.com", "https://help.example/intake")
    (mail,) = sent
    token = mail.get_content().split("link=", 1)[1].split()[0]
    assert token not in str(grants.grants) and digest(token) in grants.grants
    entered = await portal.enter(token)
    assert entered is not None and entered[1].customer_id == "cu-1"
    assert await portal.enter(token) is None

    await portal.sign_in("ana@example.com", "https://help.example/intake")
    late = sent[-1].get_content().split("link=", 1)[1].split()[0]
    clock.advance(timedelta(minutes=15, seconds=1))
    assert await portal.enter(late) is None


async def test_an_unknown_address_is_mailed_nothing() -> None:
    clock, sent = FakeClock(), list[EmailMessage]()
    portal, grants = _portal(clock, sent)
    await portal.sign_in("eve@example.com", "https://help.example/intake")
    assert sent == [] and grants.grants == {}


async def test_a_session_ends_after_its_hours_and_on_sign_out() -> None:
    clock, sent = FakeClock(), list[EmailMessage]()
    portal, _ = _portal(clock, sent)
    link = await portal.link_for({"_id": "cu-1"}, "ana@example.com", "http://x")
    entered = await portal.enter(link.rsplit("=", 1)[1])
    assert entered is not None
    session_id, session = entered
    assert await portal.session(session_id) == session
    clock.advance(timedelta(hours=8, seconds=1))
    assert await portal.session(session_id) is None

    again = await portal.enter(
        (await portal.link_for({"_id": "cu-1"}, "ana@example.com", "x")).rsplit("=", 1)[1]
    )
    assert again is not None
    await portal.sign_out(again[0])
    assert await portal.session(again[0]) is None


def test_the_conversation_keeps_only_what_the_customer_wrote_and_was_told() -> None:
    history = [
        {"event_type": "ticket.opened", "body": "Help", "channel": "email"},
        {"event_type": "ticket.routed", "team": "technical", "reason": "rules"},
        {"event_type": "ticket.note_added", "agent_id": "ag-nika", "body": "internal"},
        {"event_type": "ticket.agent_replied", "agent_id": "ag-nika", "body": "Try this"},
        {"event_type": "ticket.agent_replied", "agent_id": "gone", "body": "And this"},
        {"event_type": "sla.breached", "metric": "first_response"},
    ]
    shown = conversation(history, {"ag-nika": "Nika"})
    assert [(m["author"], m["name"], m["body"]) for m in shown] == [
        ("customer", None, "Help"),
        ("agent", "Nika", "Try this"),
        ("agent", "Support", "And this"),
    ]


def test_a_survey_is_shown_on_a_resolved_ticket_until_it_expires() -> None:
    clock = FakeClock()
    ticket = {
        "status": "resolved",
        "survey": {"link": "https://x/survey/t", "expires_at": clock.now() + timedelta(days=1)},
    }
    assert survey_of(ticket, clock.now()) is not None
    assert survey_of({**ticket, "status": "open"}, clock.now()) is None
    assert survey_of(ticket, clock.advance(timedelta(days=2))) is None
