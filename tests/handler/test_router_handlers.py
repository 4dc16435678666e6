"""The router's subscriber, run in memory with TestKafkaBroker against a real MongoDB."""

from __future__ import annotations

from typing import Any

import httpx
from faststream.kafka import TestKafkaBroker

from services.router.app import build_app
from services.router.settings import RouterSettings
from services.router.store import ASSIGNMENTS, MongoRoutingStore
from shared.directory import load_directory
from shared.events import (
    RoutingEvent,
    TicketAssigned,
    TicketOpened,
    TicketRouted,
    TicketStatusChanged,
    routing_events,
)
from shared.runtime import Service

TECHNICAL = ["ag-nika", "ag-sergei", "ag-maria"]


def _opened(ticket_id: str, subject: str, body: str = "") -> TicketOpened:
    return TicketOpened(
        ticket_id=ticket_id,
        reference="HD-AAAAAA",
        contact_id=f"c-{ticket_id}",
        customer_id="cu-1",
        customer_plan="gold",
        channel="email",
        subject=subject,
        body=body,
    )


def _resolved(ticket_id: str, status: Any = "resolved") -> TicketStatusChanged:
    return TicketStatusChanged(ticket_id=ticket_id, status=status, previous_status="open")


async def _started(make_settings: Any) -> tuple[Service, RouterSettings, list[RoutingEvent]]:
    settings = make_settings(RouterSettings)
    service = build_app(settings)
    for hook in service.on_start:
        await hook()
    decisions: list[RoutingEvent] = []

    @service.broker.subscriber(settings.topics.routing)
    async def capture(body: dict[str, Any]) -> None:
        decisions.append(routing_events.validate_python(body))

    return service, settings, decisions


async def _loads(service: Service) -> dict[str, int]:
    """Every agent's open tickets as the store counts them, leaving out the agents with none."""
    directory = load_directory(service.settings.config_dir)
    agents = [agent.person_id for team in directory.teams for agent in team.agents]
    loads = await MongoRoutingStore(service.db).loads(agents)
    return {agent: load for agent, load in loads.items() if load}


def _of(decisions: list[RoutingEvent], kind: type[Any]) -> list[Any]:
    return [d for d in decisions if isinstance(d, kind)]


async def test_new_ticket_is_routed_then_assigned_once(make_settings: Any) -> None:
    service, settings, decisions = await _started(make_settings)
    opened = _opened("t-1", "My wifi keeps disconnecting")

    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(opened.model_dump(mode="json"), settings.topics.tickets)
        await broker.publish(opened.model_dump(mode="json"), settings.topics.tickets)

    routed, assigned = _of(decisions, TicketRouted), _of(decisions, TicketAssigned)
    assert len(routed) == 1 and len(assigned) == 1 and len(decisions) == 2
    assert (routed[0].category, routed[0].subcategory, routed[0].team) == (
        "network",
        "wifi",
        "technical",
    )
    assert (routed[0].impact, routed[0].urgency, routed[0].priority) == ("medium", "high", "P2")
    assert routed[0].tier == "L1" and routed[0].customer_plan == "gold"
    assert routed[0].reason == "matched keywords wifi, disconnecting for network/wifi"
    assert routed[0].causation_id == str(opened.event_id)
    assert assigned[0].agent_id == "ag-nika" and assigned[0].team == "technical"
    assert assigned[0].reason == "least loaded in technical: 0 of 10 open tickets"
    assert await _loads(service) == {"ag-nika": 1}
    # Loads are counted from the assignments; no separate counter is kept to drift.
    assert "agent_load" not in await service.db.list_collection_names()
    await service.mongo.close()


async def test_redelivery_after_a_crash_reuses_the_recorded_agent(make_settings: Any) -> None:
    service, settings, decisions = await _started(make_settings)
    opened = _opened("t-1", "Не могу войти, забыл пароль")

    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(opened.model_dump(mode="json"), settings.topics.tickets)
        # As if the process died after its effects but before marking the event processed.
        await service.db["processed_events"].delete_many({})
        await broker.publish(opened.model_dump(mode="json"), settings.topics.tickets)

    assigned = _of(decisions, TicketAssigned)
    assert [a.agent_id for a in assigned] == ["ag-john", "ag-john"]
    assert assigned[0].event_id == assigned[1].event_id
    assert assigned[0].reason == assigned[1].reason
    assert await _loads(service) == {"ag-john": 1}
    await service.mongo.close()


async def test_tickets_of_one_team_spread_to_the_least_loaded(make_settings: Any) -> None:
    service, settings, decisions = await _started(make_settings)

    async with TestKafkaBroker(service.broker) as broker:
        for n, subject in enumerate(["Router is dead", "No internet", "Network down"]):
            await broker.publish(
                _opened(f"t-{n}", subject).model_dump(mode="json"), settings.topics.tickets
            )

    assert [a.agent_id for a in _of(decisions, TicketAssigned)] == TECHNICAL
    assert await _loads(service) == {agent: 1 for agent in TECHNICAL}
    await service.mongo.close()


async def test_resolving_frees_the_agent_once(make_settings: Any) -> None:
    service, settings, decisions = await _started(make_settings)

    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(
            _opened("t-1", "wifi").model_dump(mode="json"), settings.topics.tickets
        )
        await broker.publish(
            _opened("t-2", "wifi").model_dump(mode="json"), settings.topics.tickets
        )
        resolved = _resolved("t-1")
        await broker.publish(resolved.model_dump(mode="json"), settings.topics.tickets)
        await broker.publish(resolved.model_dump(mode="json"), settings.topics.tickets)
        await broker.publish(
            _resolved("t-1", "closed").model_dump(mode="json"), settings.topics.tickets
        )
        # Other status changes leave the load alone.
        await broker.publish(
            _resolved("t-2", "pending").model_dump(mode="json"), settings.topics.tickets
        )

    assert await _loads(service) == {"ag-sergei": 1}
    assert len(decisions) == 4
    await service.mongo.close()


async def test_full_team_gets_routed_but_not_assigned(make_settings: Any) -> None:
    service, settings, decisions = await _started(make_settings)
    await service.db[ASSIGNMENTS].insert_many(
        [
            {"_id": f"old-{agent}-{n}", "agent_id": agent, "team": "technical", "released": False}
            for agent in TECHNICAL
            for n in range(10)
        ]
    )

    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(
            _opened("t-1", "wifi").model_dump(mode="json"), settings.topics.tickets
        )

    assert [type(d) for d in decisions] == [TicketRouted]
    assert await _loads(service) == {agent: 10 for agent in TECHNICAL}
    await service.mongo.close()


async def test_http_shows_loads_and_assignments(make_settings: Any) -> None:
    service, settings, _ = await _started(make_settings)

    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(
            _opened("t-1", "invoice").model_dump(mode="json"), settings.topics.tickets
        )

    transport = httpx.ASGITransport(app=service.http)
    async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
        loads = (await client.get("/agents/load")).json()
        found = await client.get("/tickets/t-1/assignment")
        missing = await client.get("/tickets/t-404/assignment")

    assert {"agent_id": "ag-john", "team": "accounts", "open_tickets": 1, "capacity": 10} in loads
    assert {
        "agent_id": "ag-dina",
        "team": "service-desk",
        "open_tickets": 0,
        "capacity": 15,
    } in loads
    assert found.json()["agent_id"] == "ag-john" and found.json()["released"] is False
    assert missing.status_code == 404
    assert "t-404" in missing.json()["detail"]
    await service.mongo.close()


async def test_assignment_recorded_just_before_a_crash_counts_once(make_settings: Any) -> None:
    service, settings, decisions = await _started(make_settings)
    opened = _opened("t-1", "wifi")
    # The process wrote the assignment, then died before anything else.
    await service.db[ASSIGNMENTS].insert_one(
        {"_id": "t-1", "agent_id": "ag-sergei", "team": "technical", "released": False}
    )

    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(opened.model_dump(mode="json"), settings.topics.tickets)
        await broker.publish(
            _opened("t-2", "wifi").model_dump(mode="json"), settings.topics.tickets
        )

    assert [a.agent_id for a in _of(decisions, TicketAssigned)] == ["ag-sergei", "ag-nika"]
    assert await _loads(service) == {"ag-sergei": 1, "ag-nika": 1}
    await service.mongo.close()


async def test_release_written_just_before_a_crash_frees_the_agent(make_settings: Any) -> None:
    service, settings, _ = await _started(make_settings)

    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(
            _opened("t-1", "wifi").model_dump(mode="json"), settings.topics.tickets
        )
        # The release flipped the assignment, then the process died before marking the event.
        await service.db[ASSIGNMENTS].update_one({"_id": "t-1"}, {"$set": {"released": True}})
        await broker.publish(_resolved("t-1").model_dump(mode="json"), settings.topics.tickets)

    assert await _loads(service) == {}
    assert (await MongoRoutingStore(service.db).assignment("t-1")) is not None
    await service.mongo.close()


async def test_load_count_is_served_by_an_index(make_settings: Any) -> None:
    service, _, _ = await _started(make_settings)
    indexes = await service.db[ASSIGNMENTS].index_information()
    assert [("agent_id", 1), ("released", 1)] in [spec["key"] for spec in indexes.values()]
    await service.mongo.close()


async def test_store_counts_a_ticket_once_whoever_records_it_first(make_settings: Any) -> None:
    service, _, _ = await _started(make_settings)
    store = MongoRoutingStore(service.db)

    first = await store.record_assignment("t-1", "ag-nika", "technical", "first")
    second = await store.record_assignment("t-1", "ag-sergei", "technical", "second")
    assert second == first and second.agent_id == "ag-nika"
    assert await store.loads(TECHNICAL) == {"ag-nika": 1, "ag-sergei": 0, "ag-maria": 0}

    released = await store.release("t-1")
    assert released is not None and released.released
    assert await store.release("t-1") is None
    assert await store.release("t-unknown") is None
    assert await store.loads(["ag-nika"]) == {"ag-nika": 0}
    await service.mongo.close()
