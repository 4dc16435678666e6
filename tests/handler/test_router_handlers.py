"""The router's subscribers and HTTP API, run in memory with TestKafkaBroker on a real MongoDB:
routing, assignment, queues, presence, escalation, transfers and acknowledgement."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from faststream.kafka import TestKafkaBroker

from services.router.app import build_app
from services.router.domain.rules import RoutingRules
from services.router.settings import RouterSettings
from shared.agent_tokens import AgentTokens
from shared.events import (
    AgentPresenceChanged,
    CustomerErased,
    CustomerMerged,
    Event,
    RoutingEvent,
    SlaWarning,
    TicketAgentReplied,
    TicketAssigned,
    TicketEscalated,
    TicketEscalationRequested,
    TicketOpened,
    TicketQueued,
    TicketRouted,
    TicketStatusChanged,
    TicketTransferred,
    TicketTransferRequested,
    TicketTransfersExceeded,
    routing_events,
)
from shared.runtime import Service
from tests.conftest import eventually

SECRET = "router-test-secret-of-at-least-32-bytes!"


@dataclass
class Router:
    service: Service
    settings: RouterSettings
    broker: Any
    decisions: list[RoutingEvent] = field(default_factory=list)

    async def send(self, event: Event, topic: str | None = None) -> None:
        topic = topic or self.settings.topics.tickets
        await self.broker.publish(event.model_dump(mode="json"), topic)

    def of(self, kind: type[Any], ticket_id: str | None = None) -> list[Any]:
        return [
            d
            for d in self.decisions
            if isinstance(d, kind) and (ticket_id is None or d.ticket_id == ticket_id)
        ]

    def http(self, person: str | None = "lead-technical") -> httpx.AsyncClient:
        """A client of the router's API, signed in as `person` (None: no token)."""
        transport = httpx.ASGITransport(app=self.service.http)
        headers = {}
        if person is not None:
            token = AgentTokens(SECRET).issue(person, ttl=timedelta(hours=1), now=datetime.now(UTC))
            headers["Authorization"] = f"Bearer {token}"
        return httpx.AsyncClient(transport=transport, base_url="http://router", headers=headers)


@asynccontextmanager
async def router(make_settings: Any, **overrides: Any) -> AsyncIterator[Router]:
    rules = overrides.pop("rules", None)
    settings = make_settings(RouterSettings, agent_token_secret=SECRET, **overrides)
    service = build_app(settings, rules=rules)
    for hook in service.on_start:
        await hook()
    running = Router(service, settings, None)

    @service.broker.subscriber(settings.topics.routing)
    async def capture(body: dict[str, Any]) -> None:
        running.decisions.append(routing_events.validate_python(body))

    async with TestKafkaBroker(service.broker) as broker:
        running.broker = broker
        try:
            yield running
        finally:
            for hook in service.on_stop:
                await hook()
    await service.mongo.close()


def opened(ticket_id: str, text: str, **fields: Any) -> TicketOpened:
    fields.setdefault("customer_id", f"cu-{ticket_id}")
    fields.setdefault("channel", "email")
    return TicketOpened(
        ticket_id=ticket_id,
        reference="HD-AAAAAA",
        contact_id=f"c-{ticket_id}",
        subject=text,
        **fields,
    )


def status(ticket_id: str, new: Any, agent_id: str | None = None) -> TicketStatusChanged:
    return TicketStatusChanged(ticket_id=ticket_id, status=new, agent_id=agent_id)


def rules(**sections: Any) -> RoutingRules:
    return RoutingRules.model_validate(
        {"escalation": {"teams_for_tier": {"L2": "technical", "L3": "technical"}}, **sections}
    )


WIFI_EN = "The wifi in our office keeps dropping, the router reboots every hour"


async def test_new_ticket_is_routed_with_reasons_then_assigned_once(make_settings: Any) -> None:
    async with router(make_settings) as desk:
        event = opened("t-1", WIFI_EN, customer_plan="standard", language="en")
        await desk.send(event)
        await desk.send(event)

    [routed] = desk.of(TicketRouted)  # the repeat was skipped as processed
    [assigned] = desk.of(TicketAssigned)
    assert (routed.category, routed.subcategory, routed.team, routed.tier) == (
        "network",
        "wifi",
        "technical",
        "L1",
    )
    assert routed.item == "router" and routed.confidence is not None and routed.confidence > 0.5
    assert routed.causation_id == str(event.event_id)
    assert "network/wifi" in routed.reason and "priority" in routed.reason
    # Only the L1 agent of the technical team works at L1.
    assert assigned.agent_id == "ag-maria" and assigned.tier == "L1"
    assert "qualified" in assigned.reason and assigned.acknowledge_by is not None


async def test_redelivery_after_a_crash_publishes_the_same_decisions(make_settings: Any) -> None:
    async with router(make_settings) as desk:
        event = opened("t-1", "Не могу войти, забыл пароль от личного кабинета", language="ru")
        await desk.send(event)
        # As if the process died after its effects but before marking the event processed.
        await desk.service.db["processed_events"].delete_many({})
        await desk.send(event)

    # The stored decision is announced again with its id (consumers drop the repeat); the
    # assignment was saved after it went out, so it is not decided again.
    routed, assigned = desk.of(TicketRouted), desk.of(TicketAssigned)
    assert [r.event_id for r in routed] == [routed[0].event_id] * 2
    assert routed[0] == routed[1]
    assert len(assigned) == 1
    assert assigned[0].team == "accounts" and assigned[0].agent_id == "ag-olga"  # speaks ru


async def test_persian_ticket_without_a_persian_speaker_at_its_tier_says_so(
    make_settings: Any,
) -> None:
    async with router(make_settings) as desk:
        await desk.send(
            opened("t-fa", "وای فای خانه مدام قطع می‌شود و مودم ریست می‌شود", language="fa")
        )
    [routed] = desk.of(TicketRouted)
    [assigned] = desk.of(TicketAssigned)
    assert routed.category == "network" and routed.language == "fa"
    assert assigned.agent_id == "ag-maria"
    assert "nobody qualified speaks fa" in assigned.reason


async def test_unclear_ticket_goes_to_triage_as_uncategorised(make_settings: Any) -> None:
    async with router(make_settings) as desk:
        await desk.send(opened("t-x", "hello", language="en"))
    [routed] = desk.of(TicketRouted)
    assert routed.category == "uncategorised" and routed.team == "service-desk"
    assert routed.tier == "L1"


async def test_full_team_queues_then_a_resolved_ticket_frees_the_slot(make_settings: Any) -> None:
    async with router(make_settings) as desk:
        # ag-maria (technical L1) holds 3 chats at most.
        for n in range(4):
            await desk.send(opened(f"chat-{n}", WIFI_EN, channel="chat", language="en"))
        [queued] = desk.of(TicketQueued)
        assert queued.ticket_id == "chat-3" and "at capacity on chat" in queued.reason
        async with desk.http() as client:
            view = (await client.get("/queues/technical")).json()
        assert view["order"] == "priority"
        assert [t["ticket_id"] for t in view["tickets"]] == ["chat-3"]

        await desk.send(status("chat-0", "resolved", "ag-maria"))
        assert [a.ticket_id for a in desk.of(TicketAssigned)][-1] == "chat-3"
        async with desk.http() as client:
            assert (await client.get("/queues/technical")).json()["tickets"] == []
            agents = {a["agent_id"]: a for a in (await client.get("/agents")).json()}
        assert agents["ag-maria"]["open_tickets"]["chat"] == 3
        assert {a["team"] for a in agents.values()} == {"technical"}  # the lead's team only
        async with desk.http("ag-john") as client:
            elsewhere = await client.get("/queues/technical")
            routing = await client.get("/tickets/chat-3/routing")
            directory = await client.get("/agents")
        async with desk.http("ops-rin") as client:
            everyone = await client.get("/agents")
            refused = await client.get("/queues/technical")
        assert (elsewhere.status_code, routing.status_code, directory.status_code) == (
            403,
            404,
            403,
        )
        assert everyone.status_code == 200 and len(everyone.json()) > len(agents)
        assert refused.status_code == 403  # an operator sees no queue


async def test_presence_decides_who_is_available(make_settings: Any) -> None:
    tokens = AgentTokens(SECRET)
    token = tokens.issue("ag-john", ttl=timedelta(hours=1), now=datetime.now(UTC))
    async with router(make_settings) as desk:
        async with desk.http(person=None) as client:
            no_token = await client.put("/agents/ag-john/presence", json={"presence": "offline"})
            other = await client.put(
                "/agents/ag-olga/presence",
                json={"presence": "offline"},
                headers={"Authorization": f"Bearer {token}"},
            )
            mine = await client.put(
                "/agents/ag-john/presence",
                json={"presence": "offline"},
                headers={"Authorization": f"Bearer {token}"},
            )
        assert (no_token.status_code, other.status_code, mine.status_code) == (401, 403, 202)
        # The accepted report went out as an event; the router applies what arrives there.
        await desk.send(
            AgentPresenceChanged(agent_id="ag-john", presence="offline"),
            desk.settings.topics.agents,
        )
        await desk.send(
            AgentPresenceChanged(agent_id="ag-olga", presence="away"), desk.settings.topics.agents
        )
        await desk.send(opened("t-bill", "I was charged twice on my last invoice", language="en"))
        [queued] = desk.of(TicketQueued)
        assert "1 offline" in queued.reason and "1 away" in queued.reason

        await desk.send(
            AgentPresenceChanged(agent_id="ag-john", presence="online"),
            desk.settings.topics.agents,
        )
        [assigned] = desk.of(TicketAssigned)
        assert (assigned.ticket_id, assigned.agent_id) == ("t-bill", "ag-john")


async def test_escalation_on_request_moves_up_a_tier_and_counts_a_transfer(
    make_settings: Any,
) -> None:
    async with router(make_settings) as desk:
        await desk.send(opened("t-1", WIFI_EN, language="en"))
        await desk.send(
            TicketEscalationRequested(ticket_id="t-1", agent_id="ag-maria", reason="needs L2")
        )
        [escalated] = desk.of(TicketEscalated)
        [transferred] = desk.of(TicketTransferred)
        assert (escalated.from_tier, escalated.to_tier) == ("L1", "L2")
        assert escalated.trigger == "agent_request" and escalated.requested_by == "ag-maria"
        assert transferred.from_agent_id == "ag-maria" and transferred.cause == "escalation"
        assert transferred.transfer_count == 1
        assert transferred.to_agent_id in {"ag-nika", "ag-sergei"}
        assert desk.of(TicketAssigned)[-1].agent_id == transferred.to_agent_id
        async with desk.http() as client:
            record = (await client.get("/tickets/t-1/routing")).json()
        assert record["tier"] == "L2" and record["transfer_count"] == 1
        assert any("escalat" in line for line in record["history"])


async def test_sla_warning_at_the_configured_level_escalates_once(make_settings: Any) -> None:
    async with router(make_settings) as desk:
        await desk.send(opened("t-1", WIFI_EN, language="en"))

        def warning(level: int) -> SlaWarning:
            return SlaWarning(
                ticket_id="t-1",
                metric="first_response",
                level_percent=level,
                due_at=datetime.now(UTC),
                remaining_seconds=60,
            )

        await desk.send(warning(75), desk.settings.topics.sla)
        assert desk.of(TicketEscalated) == []
        await desk.send(warning(90), desk.settings.topics.sla)
        await desk.send(warning(95), desk.settings.topics.sla)
    [escalated] = desk.of(TicketEscalated)
    assert escalated.trigger == "sla_warning" and escalated.to_tier == "L2"
    assert "first response SLA at 90%" in escalated.reason


async def test_transfers_are_counted_and_reported_to_the_manager_past_the_limit(
    make_settings: Any,
) -> None:
    limit_one = rules(transfers={"report_after": 1})
    async with router(make_settings, rules=limit_one) as desk:
        await desk.send(opened("t-1", "I was charged twice on my last invoice", language="en"))
        await desk.send(
            TicketTransferRequested(
                ticket_id="t-1",
                agent_id="ag-john",
                to_team="accounts",
                to_agent_id="ag-olga",
                reason="Olga handles refunds",
            )
        )
        assert desk.of(TicketAssigned)[-1].agent_id == "ag-olga"
        await desk.send(
            TicketTransferRequested(
                ticket_id="t-1", agent_id="ag-olga", to_team="service-desk", reason="not billing"
            )
        )
    counts = [t.transfer_count for t in desk.of(TicketTransferred)]
    assert counts == [1, 2]
    [report] = desk.of(TicketTransfersExceeded)
    assert report.manager_id == "mgr-service-desk" and report.transfer_count == 2
    assert report.limit == 1


async def test_unacknowledged_ticket_goes_to_the_next_agent(make_settings: Any) -> None:
    quick = rules(assignment={"acknowledge_within_seconds": 1})
    async with router(make_settings, rules=quick) as desk:
        for hook in desk.service.after_start:
            await hook()
        await desk.send(opened("t-1", "I was charged twice on my last invoice", language="en"))
        await desk.send(opened("t-2", "Please send me a copy of my invoice", language="en"))
        first = {a.ticket_id: a.agent_id for a in desk.of(TicketAssigned)}
        # The assignee of t-2 touches it; t-1's assignee does nothing.
        await desk.send(
            TicketAgentReplied(ticket_id="t-2", agent_id=first["t-2"], body="Attached.")
        )
        moved = await eventually(lambda: _async(desk.of(TicketTransferred, "t-1")), timeout=10)
    assert moved[0].cause == "acknowledgement_timeout"
    assert moved[0].from_agent_id == first["t-1"]
    assert moved[0].to_agent_id not in {None, first["t-1"]}
    assert desk.of(TicketTransferred, "t-2") == []


async def _async(value: list[Any]) -> list[Any] | None:
    return value or None


async def test_an_agents_load_is_a_count_and_their_tickets_come_from_the_routed_tickets(
    make_settings: Any,
) -> None:
    async with router(make_settings) as desk:
        for n in range(2):
            await desk.send(opened(f"chat-{n}", WIFI_EN, channel="chat", language="en"))
        await desk.send(status("chat-0", "resolved", "ag-maria"))
        async with desk.http() as client:
            agents = {a["agent_id"]: a for a in (await client.get("/agents")).json()}
            held = (await client.get("/agents/ag-maria/tickets")).json()
            unknown = await client.get("/agents/ag-nobody/tickets")
        record = await desk.service.db["agents"].find_one({"_id": "ag-maria"})
    assert agents["ag-maria"]["open_tickets"] == {"chat": 1}
    assert [t["ticket_id"] for t in held] == ["chat-1"]
    assert unknown.status_code == 404
    # The agent's record holds counters and nothing in flight, never a list of tickets.
    assert record is not None and record["load"] == {"chat": 1} and record["slots"] == []


async def test_a_merged_customer_keeps_one_record_and_an_erased_one_none(
    make_settings: Any,
) -> None:
    async with router(make_settings) as desk:
        await desk.send(opened("t-a", WIFI_EN, language="en", customer_id="cu-a"))
        [assigned] = desk.of(TicketAssigned, "t-a")
        await desk.send(
            TicketAgentReplied(ticket_id="t-a", agent_id=assigned.agent_id, body="Restart it")
        )
        customers = desk.settings.topics.customers
        merged = CustomerMerged(customer_id="cu-b", merged_id="cu-a")
        await desk.send(merged, customers)
        await desk.send(merged, customers)  # redelivered: changes nothing more
        db = desk.service.db
        survivor = await db["customers"].find_one({"_id": "cu-b"})
        assert survivor is not None and survivor["agents"] == [assigned.agent_id]
        assert survivor["history"]["tickets"] == 1 and survivor["tickets"] == ["t-a"]
        assert await db["customers"].find_one({"_id": "cu-a"}) is None
        ticket = await db["routed_tickets"].find_one({"_id": "t-a"})
        assert ticket is not None and ticket["customer_id"] == "cu-b"

        # The survivor's next ticket goes to the agent who helped the merged record.
        await desk.send(opened("t-b", WIFI_EN, language="en", customer_id="cu-b"))
        [again] = desk.of(TicketAssigned, "t-b")
        assert again.agent_id == assigned.agent_id
        assert "helped this customer before" in again.reason

        erased = CustomerErased(
            customer_id="cu-b", customer_ids=["cu-b", "cu-a"], requested_by="mgr-accounts"
        )
        await desk.send(erased, customers)
        assert await db["customers"].count_documents({}) == 0
