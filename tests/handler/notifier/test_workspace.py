"""The agents' workspace over a real server and database: a ticket's view built from its
events (conversation, notes, routing reasons, SLA clocks, suggested articles) whatever their
order and however often they come; another team's agent is told it does not exist; a search
finds the caller's tickets by reference, customer or text and treats its text literally; a
change of a view reaches the consoles of those who may open it, and nobody else's; an erased
customer's view keeps none of their text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
from faststream.kafka import TestKafkaBroker

from shared.events import (
    ArticleMatch,
    CustomerErased,
    Event,
    KbSuggested,
    SlaStarted,
    TicketAgentReplied,
    TicketContactAppended,
    TicketNoteAdded,
    TicketOpened,
    TicketRouted,
)
from shared.events.contacts import AttachmentInfo
from shared.ids import ticket_reference
from shared.settings import TopicSettings
from tests.conftest import eventually
from tests.handler.notifier.support import bearer, make_assigned, served, start_notifier
from tests.handler.notifier.test_push import Message, websocket

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
EMAIL = "leila.k@customer.example"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def opened(ticket_id: str, subject: str, customer: str, body: str = "") -> TicketOpened:
    return TicketOpened(
        ticket_id=ticket_id,
        reference=ticket_reference(ticket_id),
        contact_id=f"c-{ticket_id}",
        customer_id=f"cu-{customer.split()[0].lower()}",
        customer_name=customer,
        channel="email",
        subject=subject,
        body=body,
        language="fa",
        attachments=[
            AttachmentInfo(filename="modem.jpg", content_type="image/jpeg", size=9, stored_id="s1")
        ],
        occurred_at=at(0),
    )


def routed(ticket_id: str, team: str = "technical") -> TicketRouted:
    return TicketRouted(
        ticket_id=ticket_id,
        category="network",
        subcategory="wifi",
        impact="high",
        urgency="medium",
        priority="P2",
        tier="L1",
        team=team,
        reason="the words wifi and modem",
        occurred_at=at(1),
    )


def story(ticket_id: str) -> list[tuple[Event, str]]:
    """A technical ticket of ag-nika's, by the topic each event comes on."""
    return [
        (opened(ticket_id, "Wifi drops (again)", "Leila Karimi", f"Mail me at {EMAIL}"), "tickets"),
        (routed(ticket_id), "routing"),
        (make_assigned(ticket_id, occurred_at=at(2)), "routing"),
        (
            SlaStarted(
                ticket_id=ticket_id,
                metric="first_response",
                due_at=at(3600),
                target_seconds=3600,
                occurred_at=at(3),
            ),
            "sla",
        ),
        (
            KbSuggested(
                ticket_id=ticket_id,
                language="fa",
                articles=[
                    ArticleMatch(
                        article_id="wifi-drops", title="Wifi drops", language="fa", score=3.5
                    )
                ],
                occurred_at=at(4),
            ),
            "kb",
        ),
        (
            TicketAgentReplied(
                ticket_id=ticket_id, agent_id="ag-nika", body="Restart it", occurred_at=at(5)
            ),
            "tickets",
        ),
        (
            TicketNoteAdded(
                ticket_id=ticket_id, agent_id="ag-nika", body="Modem is old", occurred_at=at(6)
            ),
            "tickets",
        ),
        (
            TicketContactAppended(
                ticket_id=ticket_id,
                contact_id=f"c2-{ticket_id}",
                customer_id="cu-leila",
                channel="email",
                body="Still down",
                occurred_at=at(7),
            ),
            "tickets",
        ),
    ]


async def publish(broker: Any, topics: TopicSettings, events: list[tuple[Event, str]]) -> None:
    for event, topic in events:
        await broker.publish(event.model_dump(mode="json"), getattr(topics, topic))


async def test_a_ticket_view_shows_its_story_in_time_order_once_and_only_to_its_people(
    make_settings: Any,
) -> None:
    service, settings = await start_notifier(make_settings)
    events = story("t-1")
    # Out of order (the reply comes last), and every event twice.
    shuffled = [*events[:5], *events[6:], events[5]]

    async with (
        TestKafkaBroker(service.broker) as broker,
        served(service) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        await publish(broker, settings.topics, shuffled + shuffled)
        answers = {
            person: await client.get("/tickets/t-1", headers=bearer(person))
            for person in ("ag-nika", "ag-maria", "mgr-technical", "ag-john", "mgr-accounts")
        }
        unknown = await client.get("/tickets/t-nope", headers=bearer("ag-nika"))
        me = (await client.get("/me", headers=bearer("ag-nika"))).json()

    assert {p: a.status_code for p, a in answers.items()} == {
        "ag-nika": 200,
        "ag-maria": 200,
        "mgr-technical": 200,
        "ag-john": 404,
        "mgr-accounts": 404,
    }
    assert answers["ag-john"].json() == {"detail": "no ticket t-1"}
    assert unknown.status_code == 404
    assert me["language"] == "fa" and me["person_id"] == "ag-nika"
    view = answers["ag-nika"].json()
    assert (view["reference"], view["subject"], view["customer"]) == (
        ticket_reference("t-1"),
        "Wifi drops (again)",
        "Leila Karimi",
    )
    assert (view["direction"], view["team"], view["assignee_name"]) == (
        "rtl",
        "technical",
        "Nika Ahmadi",
    )
    assert (view["category"], view["subcategory"], view["priority"], view["tier"]) == (
        "network",
        "wifi",
        "P2",
        "L1",
    )
    assert view["repeat_of"] is None and view["follows_ticket_id"] is None
    [clock] = view["clocks"]
    assert (clock["metric"], clock["target_seconds"], clock["breached"]) == (
        "first_response",
        3600,
        False,
    )
    assert [s["article_id"] for s in view["suggestions"]] == ["wifi-drops"]
    assert [(e["kind"], e["event_type"]) for e in view["timeline"]] == [
        ("message", "ticket.opened"),
        ("event", "ticket.routed"),
        ("event", "ticket.assigned"),
        ("event", "sla.started"),
        ("message", "ticket.agent_replied"),
        ("note", "ticket.note_added"),
        ("message", "ticket.contact_appended"),
    ]
    assert [e["id"] for e in view["timeline"]] == [
        str(e.event_id) for e, _ in events if e.event_type != "kb.suggested"
    ]
    first, route, _, _, reply, note, _ = view["timeline"]
    assert (first["direction"], first["body"], first["by_name"]) == (
        "in",
        f"Mail me at {EMAIL}",
        "Leila Karimi",
    )
    assert first["attachments"][0]["filename"] == "modem.jpg"
    assert route["fields"]["reason"] == "the words wifi and modem"
    assert (reply["direction"], reply["by"], reply["body"]) == ("out", "ag-nika", "Restart it")
    assert note["body"] == "Modem is old"
    await service.mongo.close()


async def test_a_search_finds_the_callers_tickets_and_takes_its_text_literally(
    make_settings: Any,
) -> None:
    service, settings = await start_notifier(make_settings)
    tickets: list[tuple[Event, str]] = [
        (opened("t-1", "VPN drops", "Leila Karimi", "It drops at noon"), "tickets"),
        (routed("t-1"), "routing"),
        (opened("t-2", "Invoice (copy)", "Acme Shipping"), "tickets"),
        (routed("t-2", team="accounts"), "routing"),
        (opened("t-3", "V.N question", "Bob Stone"), "tickets"),
        (routed("t-3"), "routing"),
    ]

    async with (
        TestKafkaBroker(service.broker) as broker,
        served(service) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        await publish(broker, settings.topics, tickets)

        async def found(q: str, person: str = "ag-nika", **query: Any) -> Any:
            answer = await client.get("/tickets", params={"q": q, **query}, headers=bearer(person))
            return answer.json() if answer.status_code == 200 else answer.status_code

        by_reference = await found(ticket_reference("t-1")[:5].lower())
        by_customer = await found("leila")
        by_text = await found("NOON")
        dotted = await found("V.N")
        bracket = await found("(copy)")
        johns = await found("(copy)", "ag-john")
        everything = await found(".*")
        limited = await found("d", limit=1)
        refused = [await found(""), await found("x" * 201), await found("x", limit=51)]

    def ids(rows: list[dict[str, Any]]) -> list[str]:
        return [r["ticket_id"] for r in rows]

    assert "t-1" in ids(by_reference) and "t-2" not in ids(by_reference)
    assert ids(by_customer) == ["t-1"] and ids(by_text) == ["t-1"]
    assert ids(dotted) == ["t-3"]  # not VPN: the dot is a dot
    assert bracket == [] and everything == []
    assert ids(johns) == ["t-2"]
    assert len(limited) == 1
    assert refused == [422, 422, 422]
    [row] = by_customer
    assert set(row) == {
        "ticket_id",
        "reference",
        "subject",
        "customer",
        "status",
        "open",
        "team",
        "assignee_id",
        "priority",
        "updated_at",
    }
    assert (row["customer"], row["team"], row["open"]) == ("Leila Karimi", "technical", True)
    await service.mongo.close()


def views_of(messages: list[Message], ticket_id: str) -> list[dict[str, Any]]:
    return [
        m["data"]
        for m in messages
        if m["type"] == "ticket_view" and m["data"]["ticket_id"] == ticket_id
    ]


async def test_a_view_change_reaches_those_who_may_open_the_ticket_and_nobody_else(
    make_settings: Any,
) -> None:
    service, settings = await start_notifier(make_settings)
    note = TicketNoteAdded(ticket_id="t-1", agent_id="ag-nika", body="Call back", occurred_at=at(9))

    async with (
        TestKafkaBroker(service.broker) as broker,
        served(service) as port,
        websocket(port, "ag-maria") as maria,
        websocket(port, "ag-john") as john,
    ):
        await publish(broker, settings.topics, story("t-1")[:3])
        await publish(broker, settings.topics, [(note, "tickets")])
        # Last, a change of an accounts ticket: John's console has had everything by then.
        accounts: list[tuple[Event, str]] = [
            (opened("t-9", "Bill", "Acme"), "tickets"),
            (routed("t-9", "accounts"), "routing"),
        ]
        await publish(broker, settings.topics, accounts)
        noted = note.occurred_at.isoformat()
        await eventually(lambda: [v for v in views_of(maria, "t-1") if v["updated_at"] == noted])
        await eventually(partial(views_of, john, "t-9"))

    assert views_of(john, "t-1") == []
    assert views_of(maria, "t-9") == []
    # The id and the time only: the console fetches the rest, as the person may.
    assert {tuple(v) for v in views_of(maria, "t-1")} == {("ticket_id", "updated_at")}
    await service.mongo.close()


async def test_an_erased_customers_view_keeps_none_of_their_text(make_settings: Any) -> None:
    service, settings = await start_notifier(make_settings)
    erased = CustomerErased(
        customer_id="cu-leila",
        customer_ids=["cu-leila"],
        ticket_ids=["t-1"],
        identities=[f"email:{EMAIL}", "name:Leila Karimi"],
        requested_by="mgr-technical",
    )
    other = TicketNoteAdded(
        ticket_id="t-2", agent_id="ag-nika", body=f"Same as {EMAIL}", occurred_at=at(8)
    )

    async with (
        TestKafkaBroker(service.broker) as broker,
        served(service) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        events = story("t-1")
        await publish(broker, settings.topics, [*events, *story("t-2")[:3], (other, "tickets")])
        await publish(broker, settings.topics, [(erased, "customers")])
        # Delivered again after the erasure: nothing comes back.
        await publish(broker, settings.topics, events[:1])
        view = (await client.get("/tickets/t-1", headers=bearer("ag-nika"))).json()
        kept = (await client.get("/tickets/t-2", headers=bearer("ag-nika"))).json()
        stored = await service.db["ticket_views"].find({}).to_list()

    assert (view["subject"], view["customer"]) == (None, None)
    assert {e["body"] for e in view["timeline"]} == {None}
    assert view["timeline"][0]["attachments"][0]["filename"] is None
    assert len(view["timeline"]) == 7 and view["clocks"] and view["suggestions"]
    assert kept["timeline"][-1]["body"] is None
    assert EMAIL not in str(stored) and "Leila" not in str(stored)
    await service.mongo.close()
