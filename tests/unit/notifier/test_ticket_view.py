"""The ticket view of the agents' workspace, as pure functions: events in any order give the same
view, a redelivered event adds nothing, the timeline keeps its latest entries, each fact holds
its latest value, an erased customer's view keeps none of their text (nor gets it back), and a
search text is never a pattern."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from services.notifier.config import load_config
from services.notifier.domain.erasure import Erasure
from services.notifier.domain.ticket_view import (
    TIMELINE_LIMIT,
    View,
    ViewChange,
    applied,
    arrival_of,
    coalesced,
    view_change,
)
from services.notifier.domain.workspace import matches, render, watchers
from shared.events import (
    ArticleMatch,
    CustomerErased,
    Event,
    KbSuggested,
    SlaStarted,
    TicketAgentReplied,
    TicketAssigned,
    TicketContactAppended,
    TicketNoteAdded,
    TicketOpened,
    TicketPriorityChanged,
    TicketQueued,
    TicketRouted,
    TicketStatusChanged,
)
from shared.events.contacts import AttachmentInfo
from tests.conftest import ROOT

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DIRECTORY = load_config(ROOT / "config").directory
EMAIL = "leila@customer.example"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def story(ticket_id: str = "t-1") -> list[Event]:
    return [
        TicketOpened(
            ticket_id=ticket_id,
            reference="HD-ABC123",
            contact_id="c-1",
            customer_id="cu-leila",
            customer_name="Leila Karimi",
            channel="email",
            subject="اینترنت قطع است",
            body=f"Wifi drops every hour. Write to {EMAIL}",
            quoted_text="> earlier",
            signature="Leila",
            language="fa",
            attachments=[
                AttachmentInfo(
                    filename="modem.jpg", content_type="image/jpeg", size=120, stored_id="s-1"
                )
            ],
            occurred_at=at(0),
        ),
        TicketRouted(
            ticket_id=ticket_id,
            category="network",
            subcategory="wifi",
            impact="high",
            urgency="medium",
            priority="P2",
            tier="L1",
            team="technical",
            reason="network words",
            occurred_at=at(1),
        ),
        TicketAssigned(
            ticket_id=ticket_id,
            agent_id="ag-nika",
            team="technical",
            reason="lowest load",
            occurred_at=at(2),
        ),
        SlaStarted(
            ticket_id=ticket_id,
            metric="first_response",
            due_at=at(3600),
            target_seconds=3600,
            occurred_at=at(3),
        ),
        KbSuggested(
            ticket_id=ticket_id,
            language="fa",
            articles=[
                ArticleMatch(article_id="wifi-drops", title="Wifi drops", language="fa", score=2)
            ],
            occurred_at=at(4),
        ),
        TicketAgentReplied(
            ticket_id=ticket_id, agent_id="ag-nika", body="Please restart it", occurred_at=at(5)
        ),
        TicketNoteAdded(
            ticket_id=ticket_id, agent_id="ag-nika", body="Probably the modem", occurred_at=at(6)
        ),
        TicketContactAppended(
            ticket_id=ticket_id,
            contact_id="c-2",
            customer_id="cu-leila",
            channel="email",
            body="Still down",
            occurred_at=at(7),
        ),
    ]


def project(events: list[Event], view: View | None = None) -> View:
    for position, event in enumerate(events):
        change = view_change(event, arrival_of(T0, position))
        if change is not None:
            view = applied(view, change)
    assert view is not None
    return view


def shown(view: View) -> dict[str, Any]:
    return render(view, DIRECTORY)


def test_a_story_reads_as_the_workspace_contract_says() -> None:
    view = shown(project(story()))

    assert (view["reference"], view["customer"], view["customer_id"]) == (
        "HD-ABC123",
        "Leila Karimi",
        "cu-leila",
    )
    assert (view["language"], view["direction"], view["plan"]) == ("fa", "rtl", "standard")
    assert (view["category"], view["subcategory"], view["item"]) == ("network", "wifi", None)
    assert (view["team"], view["assignee_id"], view["assignee_name"]) == (
        "technical",
        "ag-nika",
        "Nika Ahmadi",
    )
    assert (view["status"], view["open"], view["priority"]) == ("open", True, "P2")
    [clock] = view["clocks"]
    assert (clock["metric"], clock["due_at"], clock["target_seconds"]) == (
        "first_response",
        at(3600),
        3600,
    )
    assert (clock["breached"], clock["met"], clock["paused"]) == (False, False, False)
    assert view["suggestions"] == [
        {
            "article_id": "wifi-drops",
            "title": "Wifi drops",
            "language": "fa",
            "score": 2.0,
            "snippet": None,
            "url": None,
        }
    ]
    kinds = [(e["kind"], e["event_type"]) for e in view["timeline"]]
    assert kinds == [
        ("message", "ticket.opened"),
        ("event", "ticket.routed"),
        ("event", "ticket.assigned"),
        ("event", "sla.started"),
        ("message", "ticket.agent_replied"),
        ("note", "ticket.note_added"),
        ("message", "ticket.contact_appended"),
    ]
    first, routed, assigned, _, reply, note, appended = view["timeline"]
    assert (first["direction"], first["by"], first["by_name"]) == ("in", "cu-leila", "Leila Karimi")
    assert first["attachments"] == [
        {
            "stored_id": "s-1",
            "filename": "modem.jpg",
            "content_type": "image/jpeg",
            "size": 120,
            "refused": None,
        }
    ]
    assert routed["by"] == "router" and routed["fields"]["reason"] == "network words"
    assert assigned["fields"]["agent_id"] == "ag-nika"
    assert (reply["direction"], reply["channel"]) == ("out", "email")
    assert reply["by_name"] == "Nika Ahmadi"
    assert (note["body"], note["fields"], note["attachments"]) == ("Probably the modem", None, None)
    assert appended["by_name"] == "Leila Karimi"
    # Every entry has every key: what does not apply is null.
    assert len({frozenset(e) for e in view["timeline"]}) == 1
    assert view["updated_at"] == at(7)


def test_any_order_and_any_redelivery_give_the_same_view() -> None:
    events = story()
    expected = shown(project(events))
    for seed in range(5):
        shuffled = random.Random(seed).sample(events, len(events))
        again = shown(project(shuffled + shuffled[:3]))
        assert again == expected


def test_each_fact_holds_the_value_of_the_latest_event_that_set_it() -> None:
    events: list[Event] = [
        *story()[:3],
        TicketPriorityChanged(ticket_id="t-1", priority="P1", occurred_at=at(20)),
        # Queued earlier than the priority change, read later: its priority is stale, its team
        # and (no) agent are not.
        TicketQueued(
            ticket_id="t-1",
            team="technical",
            tier="L2",
            priority="P3",
            order="fifo",
            reason="agent went offline",
            occurred_at=at(10),
        ),
        TicketStatusChanged(ticket_id="t-1", status="resolved", occurred_at=at(30)),
    ]
    view = shown(project(events))

    assert (view["priority"], view["tier"], view["assignee_id"]) == ("P1", "L2", None)
    assert (view["status"], view["open"]) == ("resolved", False)


def test_the_timeline_keeps_the_latest_entries_only() -> None:
    notes = [
        TicketNoteAdded(ticket_id="t-1", agent_id="ag-nika", body=f"note {n}", occurred_at=at(n))
        for n in range(TIMELINE_LIMIT + 100)
    ]
    view = shown(project(list(reversed(notes))))

    bodies = [e["body"] for e in view["timeline"]]
    assert len(bodies) == TIMELINE_LIMIT
    assert bodies[0] == "note 100" and bodies[-1] == f"note {TIMELINE_LIMIT + 99}"


def test_a_batch_is_one_write_per_view_without_what_the_view_holds_already() -> None:
    events = story()
    changes = [c for n, e in enumerate(events) if (c := view_change(e, n)) is not None]
    stored = project(events[:6])

    [write] = coalesced([*changes, *changes])
    assert len(write.entries) == 7 and write.latest == at(7)
    [fresh] = coalesced(changes, {"t-1": stored})
    assert [e["event_type"] for e in fresh.entries] == [
        "ticket.note_added",
        "ticket.contact_appended",
    ]
    # Facts at the instant the view holds are written again, unchanged; older ones not at all.
    newer = TicketPriorityChanged(ticket_id="t-1", priority="P1", occurred_at=at(9))
    [later] = coalesced(changes, {"t-1": project([newer], stored)})
    assert later.facts is not None
    assert "priority" not in {g.group for g in later.facts.groups}
    assert fresh.facts is not None and "priority" in {g.group for g in fresh.facts.groups}


def test_an_erased_view_keeps_no_text_of_the_customer_and_gets_none_back() -> None:
    erasure = Erasure.of(
        CustomerErased(
            customer_id="cu-leila",
            customer_ids=["cu-leila"],
            ticket_ids=["t-1"],
            identities=[f"email:{EMAIL}"],
            requested_by="mgr-technical",
        )
    )
    other = project(
        [
            TicketNoteAdded(
                ticket_id="t-2", agent_id="ag-nika", body=f"same as {EMAIL}", occurred_at=at(1)
            ),
            TicketNoteAdded(
                ticket_id="t-2", agent_id="ag-nika", body="unrelated", occurred_at=at(2)
            ),
        ]
    )
    events = story()
    erased = erasure.ticket_view(project(events))
    # Delivered again after the erasure: the opening, and a contact not seen before.
    late = TicketContactAppended(
        ticket_id="t-1", contact_id="c-3", customer_id="cu-leila", channel="email", body="Hi"
    )
    again = shown(project([events[0], late], erased))

    assert erasure.ticket_view(erased) == erased
    assert (again["subject"], again["customer"]) == (None, None)
    texts = [e[k] for e in again["timeline"] for k in ("body", "quoted_text", "signature")]
    assert set(texts) == {None}
    assert {a["filename"] for e in again["timeline"] for a in e["attachments"] or []} == {None}
    assert [e["by_name"] for e in again["timeline"] if e["by"] == "cu-leila"] == [None] * 3
    assert again["clocks"] and again["suggestions"]  # what is not theirs stays
    assert [e["body"] for e in shown(erasure.ticket_view(other))["timeline"]] == [
        None,
        "unrelated",
    ]


def test_a_search_text_is_never_a_pattern() -> None:
    view = project(story())

    assert matches(view, "hd-abc") and matches(view, "leila KARIMI") and matches(view, "still")
    assert not matches(view, "abc123")  # a reference matches from its start
    assert not matches(view, "W.fi") and not matches(view, ".*") and not matches(view, "(")


def test_who_may_open_a_ticket_is_its_agent_and_its_teams_people() -> None:
    technical = watchers("technical", None, DIRECTORY)

    assert {"ag-nika", "ag-maria", "lead-technical", "mgr-technical"} <= technical
    assert "ag-john" not in technical
    assert watchers(None, "ag-john", DIRECTORY) == {"ag-john"}
    assert watchers(None, None, DIRECTORY) == set()


def test_events_views_do_not_record_change_nothing() -> None:
    change = view_change(story()[0], 0)
    assert isinstance(change, ViewChange)
    erased = CustomerErased(customer_id="c", customer_ids=["c"], requested_by="mgr-technical")
    assert view_change(erased, 0) is None
