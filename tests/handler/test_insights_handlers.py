"""The insights subscriber and its reports, run in memory with TestKafkaBroker on the real
MongoDB: events from three topics fold into facts, the reports answer each person what is
theirs, bad records go to the dead-letter topic, an erasure blanks the customer."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from faststream.kafka import KafkaBroker, TestKafkaBroker

from services.insights.app import build_app
from services.insights.settings import InsightsSettings
from shared.agent_tokens import TokenKeys
from shared.events import (
    CustomerErased,
    DeadLettered,
    Event,
    SlaBreached,
    TicketAgentReplied,
    TicketAssigned,
    TicketCsatReceived,
    TicketOpened,
    TicketRouted,
    TicketStatusChanged,
)
from shared.runtime import Service

SECRET = "a-test-secret-that-is-long-enough-for-hs256"
OPENED = datetime.now(UTC) - timedelta(days=2)


def _as(person: str) -> dict[str, str]:
    token = TokenKeys(SECRET).issue(person, ttl=timedelta(hours=1), now=datetime.now(UTC))
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def _running(
    settings: InsightsSettings, dead: list[DeadLettered]
) -> AsyncIterator[tuple[Service, KafkaBroker]]:
    service = build_app(settings)
    for hook in service.on_start:
        await hook()

    @service.broker.subscriber(settings.topics.deadletter)
    async def capture(body: dict[str, Any]) -> None:
        dead.append(DeadLettered.model_validate(body))

    async with TestKafkaBroker(service.broker) as broker:
        yield service, broker
    await service.mongo.close()


async def _publish(broker: KafkaBroker, topic: str, event: Event) -> None:
    await broker.publish(event.model_dump(mode="json"), topic, key=event.kafka_key())


def _ticket(t: str, team: str, category: str, minutes: int) -> list[tuple[str, Event]]:
    """Opened, routed, assigned, answered after `minutes`, resolved: (topic name, event)."""
    return [
        ("tickets", TicketOpened(ticket_id=t, reference=f"HD-{t}", contact_id=f"c-{t}",
                                 customer_id=f"cust-{t}", channel="email", language="en",
                                 occurred_at=OPENED)),
        ("routing", TicketRouted(ticket_id=t, category=category, impact="low", urgency="low",
                                 priority="P3", tier="L1", team=team, reason="rules",
                                 occurred_at=OPENED + timedelta(seconds=5))),
        ("routing", TicketAssigned(ticket_id=t, agent_id="ag-maria", team=team, reason="free",
                                   occurred_at=OPENED + timedelta(seconds=30))),
        ("tickets", TicketAgentReplied(ticket_id=t, agent_id="ag-maria", body="done",
                                       occurred_at=OPENED + timedelta(minutes=minutes))),
        ("tickets", TicketStatusChanged(ticket_id=t, status="resolved",
                                        occurred_at=OPENED + timedelta(minutes=minutes + 1))),
    ]  # fmt: skip


async def test_events_of_three_topics_become_reports_each_person_may_read(
    make_settings: Any,
) -> None:
    settings = make_settings(InsightsSettings, agent_token_secret=SECRET)
    dead: list[DeadLettered] = []
    events = [
        *_ticket("t-net", "technical", "network", 10),
        *_ticket("t-bill", "accounts", "billing", 90),
        ("sla", SlaBreached(ticket_id="t-bill", metric="first_response", due_at=OPENED,
                            late_by_seconds=0.0, occurred_at=OPENED + timedelta(hours=1))),
        ("tickets", TicketCsatReceived(ticket_id="t-bill", score=1,
                                       occurred_at=OPENED + timedelta(days=1))),
    ]  # fmt: skip
    async with _running(settings, dead) as (service, broker):
        for topic, event in events:
            await _publish(broker, getattr(settings.topics, topic), event)
        # A redelivery changes nothing; a record that is not JSON is dead-lettered alone.
        await _publish(broker, settings.topics.tickets, events[3][1])
        await broker.publish(b"{not json", settings.topics.routing, key=b"t-net")

        stored = {d["_id"]: d async for d in service.db["facts"].find({})}
        transport = httpx.ASGITransport(app=service.http)
        async with httpx.AsyncClient(transport=transport, base_url="http://insights") as client:
            operator = await client.get("/reports/figures", headers=_as("ops-rin"))
            by_team = await client.get(
                "/reports/figures", params={"dimension": "team"}, headers=_as("ops-rin")
            )
            manager = await client.get(
                "/reports/figures", params={"dimension": "team"}, headers=_as("mgr-accounts")
            )
            refused_team = await client.get(
                "/reports/figures", params={"team": "technical"}, headers=_as("mgr-accounts")
            )
            agent = await client.get("/reports/figures", headers=_as("ag-maria"))
            anonymous = await client.get("/reports/figures")
            unhappy = await client.get(
                "/reports/tickets", params={"csat_at_most": 2}, headers=_as("ops-rin")
            )
            hidden = await client.get(
                "/reports/tickets", params={"csat_at_most": 2}, headers=_as("lead-technical")
            )
            export = await client.get("/reports/tickets.csv", headers=_as("ops-rin"))
            month = f"{OPENED.year}-{OPENED.month:02d}"
            tree = await client.get(
                "/reports/categories", params={"month": month}, headers=_as("ops-rin")
            )
            bad_window = await client.get(
                "/reports/figures",
                params={"since": "2026-05-01T00:00:00Z", "until": "2026-04-01T00:00:00Z"},
                headers=_as("ops-rin"),
            )
            bad_month = await client.get(
                "/reports/categories", params={"month": "2026-13"}, headers=_as("ops-rin")
            )

        await _publish(
            broker,
            settings.topics.customers,
            CustomerErased(
                customer_id="cust-t-bill",
                customer_ids=["cust-t-bill"],
                ticket_ids=["t-bill"],
                identities=[],
                requested_by="mgr-accounts",
            ),
        )
        erased = await service.db["facts"].find_one({"_id": "t-bill"})

    assert set(stored) == {"t-net", "t-bill"}
    assert stored["t-net"]["agent_replies"] == 1  # the redelivered reply counted once
    assert [d.source_topic for d in dead] == [settings.topics.routing]
    assert operator.status_code == 200
    [everything] = [f for f in operator.json() if f["tickets"]]
    assert (everything["tickets"], everything["resolved"]) == (2, 2)
    assert everything["first_response"] == {"count": 2, "median": 600.0, "p90": 5400.0}
    assert everything["sla"] == {"first_response": {"met": 0, "breached": 1, "percent_met": 0.0}}
    assert {f["group"] for f in by_team.json()} == {"technical", "accounts"}
    assert manager.status_code == 200 and {f["group"] for f in manager.json()} == {"accounts"}
    assert refused_team.status_code == 403
    assert agent.status_code == 403 and anonymous.status_code == 401
    assert [r["ticket_id"] for r in unhappy.json()] == ["t-bill"]
    assert hidden.status_code == 200 and hidden.json() == []  # not the lead's team
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert {r["ticket_id"]: r["first_contact_resolved"] for r in rows} == {
        "t-net": "True",
        "t-bill": "True",
    }
    assert "cust-" not in export.text  # no customer ids, names or text in the reports
    assert {n["name"]: n["count"] for n in tree.json()["categories"]} == {
        "network": 1,
        "billing": 1,
    }
    assert bad_window.status_code == 422 and bad_month.status_code == 422
    assert erased is not None and erased["customer_id"] is None
