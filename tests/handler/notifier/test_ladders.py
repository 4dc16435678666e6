"""Escalation ladders, digests and working hours, driven by a FakeClock: each rung told once,
acknowledgements and resolutions stop a ladder, warnings fold, non-urgent mail waits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared.clock import FakeClock
from shared.events import (
    EscalationAcknowledged,
    NotificationPushed,
    SlaMet,
    TicketStatusChanged,
)
from shared.ids import derived_id, ticket_reference
from shared.runtime import Service
from tests.conftest import eventually
from tests.handler.notifier.support import (
    DUE,
    Mailbox,
    bearer,
    capture_into,
    make_assigned,
    make_breach,
    make_warning,
    running,
    served,
    start_notifier,
)

#: A Monday morning, just after the breaches of `make_breach` fell due.
START = DUE + timedelta(seconds=5)
TEN_MINUTES = timedelta(minutes=10)
NIKA, IVAN, ELENI, LEON = (
    "nika@helpdesk.example",
    "ivan.lead@helpdesk.example",
    "eleni.manager@helpdesk.example",
    "leon@helpdesk.example",
)
JOHN, SARA = "john@helpdesk.example", "sara.manager@helpdesk.example"


def received(mailbox: Mailbox, address: str) -> Callable[[], bool]:
    return lambda: address in mailbox.recipients()


def pushes(events: list[Any]) -> list[NotificationPushed]:
    return [e for e in events if isinstance(e, NotificationPushed)]


def finished(events: list[Any]) -> list[EscalationAcknowledged]:
    return [e for e in events if isinstance(e, EscalationAcknowledged)]


async def escalation(service: Service, escalation_id: str) -> dict[str, Any]:
    found = await service.db["escalations"].find_one({"_id": escalation_id})
    assert found is not None, escalation_id
    return found


async def sent(service: Service, count: int) -> bool:
    return await service.db["deliveries"].count_documents({"status": "sent"}) == count


def clocked_bearer(person_id: str, clock: FakeClock) -> dict[str, str]:
    return bearer(person_id, now=clock.now(), ttl=timedelta(days=30))


async def test_unacknowledged_breach_climbs_to_lead_manager_on_call_then_is_exhausted(
    make_settings: Any, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    clock = FakeClock(START)
    service, settings = await start_notifier(make_settings, clock=clock, smtp_port=port)
    events: list[Any] = []
    capture_into(service, settings.topics.notifications, events)
    breach = make_breach()
    escalation_id = str(derived_id(breach.event_id, "escalation"))

    async with running(service) as broker:
        await broker.publish(breach.model_dump(mode="json"), settings.topics.sla)
        await eventually(received(mailbox, NIKA))
        assert (await escalation(service, escalation_id))["rung"] == 0
        for rung, address in enumerate([IVAN, ELENI, LEON], start=1):
            clock.advance(TEN_MINUTES)
            await eventually(received(mailbox, address))
            assert (await escalation(service, escalation_id))["rung"] == rung
        clock.advance(TEN_MINUTES)
        await eventually(lambda: finished(events))

        async def all_settled() -> bool:
            # Outcomes are published before their jobs are settled: wait for the log.
            jobs = await service.db["deliveries"].find({}).to_list()
            return len(jobs) == 4 and all(j["status"] == "sent" for j in jobs)

        await eventually(all_settled)

    assert mailbox.recipients() == [NIKA, IVAN, ELENI, LEON]
    assert [(p.recipients, p.rung, p.escalation_id) for p in pushes(events)] == [
        (["ag-nika"], 0, escalation_id),
        (["lead-technical"], 1, escalation_id),
    ]
    [done] = finished(events)
    assert (done.escalation_id, done.status, done.acknowledged_by) == (
        escalation_id,
        "exhausted",
        None,
    )
    assert set(done.recipients) >= {"ag-nika", "lead-technical", "mgr-technical", "ag-leon"}
    stored = await escalation(service, escalation_id)
    assert (stored["status"], stored["rung"], stored["next_at"]) == ("exhausted", 3, None)
    assert stored["told"] == ["ag-nika", "lead-technical", "mgr-technical", "ag-leon"]
    jobs = await service.db["deliveries"].find({}).sort("created_at", 1).to_list()
    assert [(j["_id"].split(":", 1)[1], j["status"], j["attempts"]) for j in jobs] == [
        ("ag-nika:email", "sent", 1),
        ("lead-technical:email#1", "sent", 1),
        ("mgr-technical:email#2", "sent", 1),
        ("ag-leon:email#3", "sent", 1),
    ]
    await service.mongo.close()


async def test_acknowledging_over_http_stops_the_ladder_and_is_idempotent(
    make_settings: Any, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    clock = FakeClock(START)
    service, settings = await start_notifier(make_settings, clock=clock, smtp_port=port)
    events: list[Any] = []
    capture_into(service, settings.topics.notifications, events)
    breach = make_breach()
    # A ladder nobody acknowledges: its climb shows the clock was looked at after the advance.
    other = make_breach(ticket_id="t-2002", team="accounts", assignee_id="ag-john")
    escalation_id = str(derived_id(breach.event_id, "escalation"))
    url = f"/escalations/{escalation_id}/acknowledge"
    nika = clocked_bearer("ag-nika", clock)

    async with (
        running(service) as broker,
        served(service) as http_port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as client,
    ):
        await broker.publish(breach.model_dump(mode="json"), settings.topics.sla)
        await broker.publish(other.model_dump(mode="json"), settings.topics.sla)
        await eventually(lambda: sorted(mailbox.recipients()) == [JOHN, NIKA])
        anonymous = await client.post(url)
        stranger = await client.post(url, headers=clocked_bearer("ag-john", clock))
        teammate = await client.post(url, headers=clocked_bearer("ag-sergei", clock))
        unknown = await client.post("/escalations/no-such-ladder/acknowledge", headers=nika)
        first = await client.post(url, headers=nika)
        again = await client.post(url, headers=nika)
        clock.advance(TEN_MINUTES + timedelta(seconds=1))
        # Accounts has no lead: its manager is told at the second rung.
        await eventually(received(mailbox, SARA))
        board = await client.get("/board", headers=clocked_bearer("mgr-technical", clock))

    assert anonymous.status_code == 401
    # Another team's ladder is not told to exist; one of the caller's team they were not told
    # of, and do not head, is refused.
    assert stranger.status_code == 404
    assert teammate.status_code == 403
    assert unknown.status_code == 404
    assert first.status_code == 200 and again.status_code == 200
    view = first.json()
    assert (view["escalation_id"], view["status"], view["acknowledged_by"]) == (
        escalation_id,
        "acknowledged",
        "ag-nika",
    )
    assert view["acknowledge_by"] is None and view["acknowledged_at"] is not None
    assert again.json() == view
    assert IVAN not in mailbox.recipients()
    assert sorted(mailbox.recipients()) == [JOHN, NIKA, SARA]
    [acknowledged] = [e for e in finished(events) if e.escalation_id == escalation_id]
    assert (acknowledged.status, acknowledged.acknowledged_by) == ("acknowledged", "ag-nika")
    assert {"ag-nika", "lead-technical", "mgr-technical"} <= set(acknowledged.recipients)
    assert [p.rung for p in pushes(events) if p.ticket_id == "t-1001"] == [0]
    assert (await escalation(service, escalation_id))["status"] == "acknowledged"
    assert escalation_id not in [e["escalation_id"] for e in board.json()["escalations"]]
    await service.mongo.close()


async def test_a_met_target_or_a_resolved_ticket_stops_its_open_ladder(
    make_settings: Any, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    clock = FakeClock(START)
    service, settings = await start_notifier(make_settings, clock=clock, smtp_port=port)
    events: list[Any] = []
    capture_into(service, settings.topics.notifications, events)
    met = make_breach(ticket_id="t-1")
    resolved = make_breach(ticket_id="t-2", assignee_id="ag-sergei")
    other = make_breach(ticket_id="t-3", team="accounts", assignee_id="ag-john")
    met_id, resolved_id = (str(derived_id(b.event_id, "escalation")) for b in (met, resolved))

    async with running(service) as broker:
        for breach in (met, resolved, other):
            await broker.publish(breach.model_dump(mode="json"), settings.topics.sla)
        # Another target of the ticket being met leaves this ladder alone.
        next_reply = SlaMet(ticket_id="t-1", metric="next_reply", due_at=None, used_seconds=60)
        await broker.publish(next_reply.model_dump(mode="json"), settings.topics.sla)
        assert (await escalation(service, met_id))["status"] == "open"
        first_response = SlaMet(
            ticket_id="t-1", metric="first_response", due_at=DUE, used_seconds=1
        )
        await broker.publish(first_response.model_dump(mode="json"), settings.topics.sla)
        closed = TicketStatusChanged(ticket_id="t-2", status="resolved", previous_status="open")
        await broker.publish(closed.model_dump(mode="json"), settings.topics.tickets)
        await eventually(lambda: len(mailbox.envelopes) == 3)
        clock.advance(TEN_MINUTES + timedelta(seconds=1))
        await eventually(received(mailbox, SARA))

    stopped = {e.escalation_id: e for e in finished(events)}
    assert set(stopped) == {met_id, resolved_id}
    assert stopped[met_id].status == stopped[resolved_id].status == "stopped"
    assert "met" in stopped[met_id].reason and "resolved" in stopped[resolved_id].reason
    for escalation_id in (met_id, resolved_id):
        assert (await escalation(service, escalation_id))["status"] == "stopped"
    assert IVAN not in mailbox.recipients()
    await service.mongo.close()


async def _warn_then_digest(
    make_settings: Any, smtp_server: tuple[Mailbox, int], tickets: list[str], **overrides: Any
) -> None:
    """75% warnings of `tickets` to one agent: the first is mailed at once, the others wait
    for the next digest slot and go out together as one email listing them."""
    mailbox, port = smtp_server
    clock = FakeClock(START)
    service, settings = await start_notifier(
        make_settings, clock=clock, smtp_port=port, **overrides
    )
    events: list[Any] = []
    capture_into(service, settings.topics.notifications, events)
    warnings = [make_warning(ticket_id) for ticket_id in tickets]
    first, *folded = (ticket_reference(ticket_id) for ticket_id in tickets)

    async with running(service) as broker:
        for warning in warnings:
            await broker.publish(warning.model_dump(mode="json"), settings.topics.sla)
        await eventually(lambda: mailbox.envelopes)
        waiting = await service.db["deliveries"].find({"status": "pending"}).to_list()
        assert sorted(j["ticket_id"] for j in waiting) == tickets[1:]
        assert {j["send_at"] for j in waiting} == {START + timedelta(minutes=5)}
        clock.advance(timedelta(minutes=5))
        await eventually(lambda: sent(service, len(tickets)))
    await service.mongo.close()

    assert mailbox.recipients() == [NIKA, NIKA]
    alone, digest = mailbox.messages()
    assert str(alone["Subject"]).startswith(f"[{first}] ")
    subject = str(digest["Subject"])
    assert all(reference in subject for reference in folded) and first not in subject
    body = digest.get_body(("plain",))
    assert body is not None
    assert all(reference in body.get_content() for reference in folded)
    # The console is not digested: each warning was pushed at once.
    assert sorted(p.ticket_id for p in pushes(events)) == tickets


async def test_warnings_within_the_digest_window_fold_into_one_email(
    make_settings: Any, smtp_server: tuple[Mailbox, int]
) -> None:
    await _warn_then_digest(make_settings, smtp_server, ["t-11", "t-12", "t-13"], email_workers=1)


async def test_warnings_fold_into_one_email_with_several_email_workers(
    make_settings: Any, smtp_server: tuple[Mailbox, int]
) -> None:
    tickets = ["t-11", "t-12", "t-13", "t-14", "t-15"]
    await _warn_then_digest(make_settings, smtp_server, tickets, email_workers=4)


async def test_non_urgent_assignment_email_waits_for_monday_in_athens_but_push_does_not(
    make_settings: Any, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    saturday_night = datetime(2026, 1, 10, 20, 0, tzinfo=UTC)  # 22:00 in Athens
    monday_nine = datetime(2026, 1, 12, 7, 0, tzinfo=UTC)  # 09:00 in Athens
    clock = FakeClock(saturday_night)
    service, settings = await start_notifier(make_settings, clock=clock, smtp_port=port)
    events: list[Any] = []
    capture_into(service, settings.topics.notifications, events)
    assigned = make_assigned("t-21")

    async with running(service) as broker:
        await broker.publish(assigned.model_dump(mode="json"), settings.topics.routing)
        [pushed] = pushes(events)
        assert (pushed.recipients, pushed.kind, pushed.ticket_id) == (
            ["ag-nika"],
            "assigned",
            "t-21",
        )
        job = await service.db["deliveries"].find_one({"ticket_id": "t-21"})
        assert job is not None and (job["status"], job["send_at"]) == ("pending", monday_nine)
        clock.set(monday_nine - timedelta(minutes=1))
        # An urgent breach goes out at once: the worker looked, and left the assignment alone.
        breach = make_breach(ticket_id="t-22", assignee_id="ag-sergei")
        await broker.publish(breach.model_dump(mode="json"), settings.topics.sla)
        await eventually(received(mailbox, "sergei@helpdesk.example"))
        assert NIKA not in mailbox.recipients()
        clock.set(monday_nine)
        await eventually(received(mailbox, NIKA))

    [mail] = mailbox.to(NIKA)
    assert str(mail["Subject"]).startswith(f"[{ticket_reference('t-21')}] ")
    await service.mongo.close()
