"""Agents' actions: authenticated, limited to their team's tickets, each one ticket event."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from services.intake.store import MongoIntakeStore
from shared.events import Event
from shared.publishing import Publisher
from tests.handler.intake.support import Desk

CHAT = {"channel": "chat", "chat_user_id": "w-1", "conversation_id": "cv-1", "text": "Router down"}


async def new_ticket(desk: Desk, team: str | None = "technical") -> str:
    await desk.contact({**CHAT, "conversation_id": uuid.uuid4().hex})
    ticket_id = desk.events("ticket.opened")[-1]["ticket_id"]
    if team:
        await desk.route(ticket_id, team)
    return ticket_id


async def test_every_action_becomes_its_ticket_event(desk: Desk) -> None:
    ticket_id = await new_ticket(desk)
    steps = [
        ("reply", {"body": "Looking into it"}, "ticket.agent_replied"),
        ("notes", {"body": "Customer sounds upset"}, "ticket.note_added"),
        ("pending", {"reason": "asked for the model"}, "ticket.status_changed"),
        ("on-hold", {"reason": "waiting on the vendor"}, "ticket.status_changed"),
        ("priority", {"priority": "P2", "reason": "whole office"}, "ticket.priority_changed"),
        (
            "escalate",
            {"reason": "needs a network engineer", "to_tier": "L2"},
            "ticket.escalation_requested",
        ),
        (
            "transfer",
            {"to_team": "accounts", "reason": "it is billing"},
            "ticket.transfer_requested",
        ),
        ("resolve", {"reason": "fixed"}, "ticket.status_changed"),
        ("reopen", {"reason": "customer says no"}, "ticket.status_changed"),
    ]
    for path, body, event_type in steps:
        answer = await desk.act("ag-sergei", ticket_id, path, body)
        assert answer.status_code == 202, (path, answer.text)
        assert answer.json()["event_type"] == event_type

    events = desk.published[1:]
    assert [e["event_type"] for e in events] == [s[2] for s in steps]
    assert {e["customer_id"] for e in events} == {desk.published[0]["customer_id"]}
    assert [e["status"] for e in events if e["event_type"] == "ticket.status_changed"] == [
        "pending",
        "on_hold",
        "resolved",
        "reopened",
    ]
    assert all(e.get("agent_id") == "ag-sergei" for e in events)
    ticket = await desk.read(f"/tickets/{ticket_id}", "ag-sergei")
    assert ticket["status"] == "reopened" and ticket["priority"] == "P3"  # the router decides
    customer = await desk.read(f"/customers/{ticket['customer_id']}", "ag-sergei")
    assert [n["body"] for n in customer["tickets"][0]["notes"]] == ["Customer sounds upset"]


async def test_actions_need_a_valid_token_and_the_tickets_team(desk: Desk) -> None:
    ticket_id = await new_ticket(desk)
    anonymous = await desk.client.post(f"/tickets/{ticket_id}/reply", json={"body": "hi"})
    assert anonymous.status_code == 401 and "Authorization" in anonymous.json()["detail"]
    forged = await desk.client.post(
        f"/tickets/{ticket_id}/reply", json={"body": "hi"}, headers={"Authorization": "Bearer abc"}
    )
    assert forged.status_code == 401
    # Another team's ticket, or one not routed yet, is answered as if it did not exist.
    other_team = await desk.act("ag-john", ticket_id, "reply", {"body": "hi"})
    assert other_team.status_code == 404 and other_team.json()["detail"] == f"no ticket {ticket_id}"
    unrouted = await new_ticket(desk, team=None)
    early = await desk.act("ag-nika", unrouted, "reply", {"body": "hi"})
    assert early.status_code == 404
    assert (await desk.act("lead-technical", ticket_id, "notes", {"body": "ok"})).status_code == 202
    assert (await desk.act("ag-nika", "nope", "reply", {"body": "hi"})).status_code == 404
    bad = await desk.act("ag-nika", ticket_id, "priority", {"priority": "P9", "reason": "x"})
    assert bad.status_code == 422
    wrong_state = await desk.act("ag-nika", ticket_id, "reopen", {})
    assert (
        wrong_state.status_code == 409 and "cannot reopen a ticket that is open" in wrong_state.text
    )
    assert len(desk.published) == 3  # the two tickets opened and the lead's note


async def test_a_retried_request_with_the_same_key_publishes_the_same_event(desk: Desk) -> None:
    ticket_id = await new_ticket(desk)
    first = await desk.act(
        "ag-maria", ticket_id, "reply", {"body": "On it"}, **{"Idempotency-Key": "k-1"}
    )
    again = await desk.act(
        "ag-maria", ticket_id, "reply", {"body": "On it"}, **{"Idempotency-Key": "k-1"}
    )
    assert first.json()["event_id"] == again.json()["event_id"]
    ticket = await desk.read(f"/tickets/{ticket_id}")
    assert [h["event_type"] for h in ticket["history"]].count("ticket.agent_replied") == 1


async def test_two_agents_resolving_at_once_change_the_status_once(desk: Desk) -> None:
    ticket_id = await new_ticket(desk)
    answers = await asyncio.gather(
        *(
            desk.act(agent, ticket_id, "resolve", {})
            for agent in ("ag-nika", "ag-sergei", "ag-maria")
        )
    )
    assert sorted(a.status_code for a in answers) == [202, 409, 409]
    assert len(desk.events("ticket.status_changed", ticket_id)) == 1


async def test_a_resolution_cut_off_between_its_claim_and_its_event_is_announced_on_retry(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The state a crash leaves between claiming the status and publishing it: resolved here,
    nothing on the topic. The retry with the same key announces it under the same id, once."""
    ticket_id = await new_ticket(desk)
    publish, transition = Publisher.publish, MongoIntakeStore.transition
    cut: list[str] = []

    async def broker_away(self: Publisher, event: Event, *args: Any, **kwargs: Any) -> None:
        if event.event_type == "ticket.status_changed" and not cut:
            cut.append(str(event.event_id))
            raise ConnectionError("broker away")
        await publish(self, event, *args, **kwargs)

    async def no_undo(self: MongoIntakeStore, *args: Any, **kwargs: Any) -> bool:
        if kwargs.get("dropping"):
            raise ConnectionError("gone before it could undo its claim")
        return await transition(self, *args, **kwargs)

    monkeypatch.setattr(Publisher, "publish", broker_away)
    monkeypatch.setattr(MongoIntakeStore, "transition", no_undo)
    key = {"Idempotency-Key": "resolve-1"}
    cut_off = await desk.act("ag-maria", ticket_id, "resolve", {"reason": "fixed"}, **key)
    assert cut_off.status_code == 500, cut_off.text
    assert (await desk.read(f"/tickets/{ticket_id}"))["status"] == "resolved"
    assert desk.events("ticket.status_changed", ticket_id) == []

    again = await desk.act("ag-maria", ticket_id, "resolve", {"reason": "fixed"}, **key)
    assert again.status_code == 202, again.text
    assert again.json()["event_id"] == cut[0]
    announced = desk.events("ticket.status_changed", ticket_id)
    assert [(e["event_id"], e["status"]) for e in announced] == [(cut[0], "resolved")]
    # Without the key it is a new request, refused: the ticket is resolved already.
    other = await desk.act("ag-maria", ticket_id, "resolve", {"reason": "fixed"})
    assert other.status_code == 409


async def test_a_claim_whose_event_cannot_go_out_is_taken_back_with_its_history(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket_id = await new_ticket(desk)
    publish = Publisher.publish

    async def broker_away(self: Publisher, event: Event, *args: Any, **kwargs: Any) -> None:
        if event.event_type == "ticket.status_changed":
            raise ConnectionError("broker away")
        await publish(self, event, *args, **kwargs)

    monkeypatch.setattr(Publisher, "publish", broker_away)
    key = {"Idempotency-Key": "pending-1"}
    failed = await desk.act("ag-maria", ticket_id, "pending", {"reason": "asked"}, **key)
    assert failed.status_code == 500, failed.text
    ticket = await desk.read(f"/tickets/{ticket_id}")
    assert ticket["status"] == "open"
    assert "ticket.status_changed" not in [h["event_type"] for h in ticket["history"]]
    monkeypatch.setattr(Publisher, "publish", publish)
    again = await desk.act("ag-maria", ticket_id, "pending", {"reason": "asked"}, **key)
    assert again.status_code == 202
    assert [e["status"] for e in desk.events("ticket.status_changed", ticket_id)] == ["pending"]
