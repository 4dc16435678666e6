"""Erasing a customer in the notifier (in-memory store, batches through the consumer kit): the
board rows, deliveries and escalations of their tickets lose the name and subject, other text
naming them is blanked, other customers' stays; twice changes nothing; a `ticket.opened`
delivered again writes nothing back; a replica's consoles see the blanked rows."""

from __future__ import annotations

import json
from datetime import timedelta

from services.notifier.domain.erasure import Erasure
from shared.events import CustomerErased, CustomerMerged, SlaBreached, TicketOpened
from shared.ids import ticket_reference
from tests.unit.test_notifier_service import T0, Connection, Desk, assigned, memory, routed

NAME, EMAIL, PHONE = "Eleni Kostopoulou", "eleni.k@customer.example", "+302101234567"
OTHER = "Acme Shipping"


def opened(ticket_id: str, customer_id: str, name: str | None, subject: str) -> TicketOpened:
    return TicketOpened(
        ticket_id=ticket_id,
        reference=ticket_reference(ticket_id),
        contact_id=f"c-{ticket_id}",
        customer_id=customer_id,
        customer_name=name,
        channel="email",
        subject=subject,
        occurred_at=T0,
    )


def breach(ticket_id: str) -> SlaBreached:
    return SlaBreached(
        ticket_id=ticket_id,
        metric="first_response",
        team="technical",
        assignee_id="ag-nika",
        priority="P2",
        due_at=T0,
        late_by_seconds=1,
        occurred_at=T0 + timedelta(seconds=1),
    )


ERASED = CustomerErased(
    customer_id="cu-eleni",
    customer_ids=["cu-eleni", "cu-eleni-old"],
    ticket_ids=["t-1", "t-2"],
    identities=[f"email:{EMAIL}", f"phone:{PHONE}", f"name:{NAME}"],
    requested_by="mgr-technical",
)


def story() -> list[TicketOpened]:
    return [
        opened("t-1", "cu-eleni", NAME, f"Router down, call me on {PHONE}"),
        # Opened before the records were merged, without a name: the board shows the id.
        opened("t-2", "cu-eleni-old", None, "Invoice question"),
        opened("t-3", "cu-acme", OTHER, f"Forwarding a message from {EMAIL}"),
        opened("t-4", "cu-acme", OTHER, "Pallet tracking broken"),
    ]


async def told(desk: Desk) -> None:
    """The tickets opened, routed and assigned, and t-1 and t-4 breached: rows, emails and
    escalations that carry the subjects and customers."""
    tickets = [e.ticket_id or "" for e in story()]
    later = T0 + timedelta(milliseconds=5)
    await desk.feed("tickets", *story())
    await desk.feed("routing", *[routed(t, later) for t in tickets])
    await desk.feed("routing", *[assigned(t, later + timedelta(milliseconds=1)) for t in tickets])
    await desk.feed("sla", breach("t-1"), breach("t-4"))


def kept(desk: Desk) -> str:
    """Everything the store holds, as text."""
    store = memory(desk)
    return json.dumps(
        {
            "rows": store.rows,
            "jobs": [j.model_dump(mode="json") for j in store.jobs_by_key.values()],
            "ladders": [e.model_dump(mode="json") for e in store.ladders.values()],
            "webhooks": [t.model_dump(mode="json") for t in store.targets.values()],
        },
        default=str,
        ensure_ascii=False,
    )


async def test_an_erased_customer_leaves_no_name_address_or_phone_and_others_stay() -> None:
    desk = Desk()
    await told(desk)
    before = kept(desk)
    assert NAME in before and PHONE in before and EMAIL in before and "cu-eleni-old" in before

    await desk.feed("customers", ERASED, subscriber="notifier.on_customer")

    after = kept(desk)
    for gone in (NAME, EMAIL, PHONE, "Router down", "Invoice question", "cu-eleni-old"):
        assert gone not in after, gone
    store = memory(desk)
    for ticket_id in ("t-1", "t-2"):
        row = store.rows[ticket_id]
        assert (row["subject"], row["customer"]) == (None, None)
        assert (row["team"], row["assignee_id"]) == ("technical", "ag-nika")  # the rest stays
    # Another customer's ticket that quoted her address loses that text only.
    assert (store.rows["t-3"]["subject"], store.rows["t-3"]["customer"]) == (None, OTHER)
    assert store.rows["t-4"]["subject"] == "Pallet tracking broken"
    for job in store.jobs_by_key.values():
        if job.ticket_id in ("t-1", "t-2"):
            assert (job.notice.subject, job.notice.customer) == (None, None)
    [ladder_1] = [e for e in store.ladders.values() if e.ticket_id == "t-1"]
    assert (ladder_1.notice.subject, ladder_1.notice.customer) == (None, None)
    [ladder_4] = [e for e in store.ladders.values() if e.ticket_id == "t-4"]
    assert (ladder_4.notice.subject, ladder_4.notice.customer) == (
        "Pallet tracking broken",
        OTHER,
    )
    assert desk.letters == []

    # Twice changes nothing; the ticket opened delivered again writes nothing back.
    await desk.feed("customers", ERASED, subscriber="notifier.on_customer")
    await desk.feed("tickets", *story()[:2])
    assert kept(desk) == after


async def test_a_merge_changes_nothing_in_the_notifier() -> None:
    desk = Desk()
    await told(desk)
    before = kept(desk)
    merged = CustomerMerged(customer_id="cu-eleni", merged_id="cu-eleni-old")
    await desk.feed("customers", merged, subscriber="notifier.on_customer")
    assert kept(desk) == before and desk.letters == []


async def test_the_consoles_of_a_replica_see_the_erased_rows_blanked() -> None:
    desk = Desk()
    console = Connection()
    desk.hub.add("ag-nika", console)
    live = "notifier.on_live_push"
    await desk.feed("tickets", *story(), subscriber=live)
    later = T0 + timedelta(milliseconds=5)
    tickets = [e.ticket_id or "" for e in story()]
    await desk.feed("routing", *[assigned(t, later) for t in tickets], subscriber=live)
    console.received.clear()

    await desk.feed("customers", ERASED, subscriber=live)

    rows = {m["data"]["ticket_id"]: m["data"] for m in console.received if m["type"] == "ticket"}
    assert sorted(rows) == ["t-1", "t-2", "t-3"]
    assert all(rows[t]["subject"] is None for t in rows)
    assert (rows["t-1"]["customer"], rows["t-3"]["customer"]) == (None, OTHER)
    # A later change of the ticket, and its opening delivered again, keep it blank.
    console.received.clear()
    await desk.feed("routing", routed("t-1", later + timedelta(seconds=1)), subscriber=live)
    await desk.feed("tickets", story()[0], subscriber=live)
    shown = [m["data"] for m in console.received if m["type"] == "ticket"]
    assert shown and all((r["subject"], r["customer"]) == (None, None) for r in shown)


def test_identities_are_found_in_any_case_and_short_ones_are_ignored() -> None:
    erasure = Erasure.of(ERASED.model_copy(update={"identities": [*ERASED.identities, "chat:ab"]}))
    assert erasure.texts == (EMAIL, PHONE, NAME)
    assert erasure.mentions(f"Re: {EMAIL.upper()}") and not erasure.mentions("ab cd")
    assert erasure.row({"_id": "t-9", "subject": "x", "customer": "cu-eleni-old"}) == {
        "_id": "t-9",
        "subject": "x",
        "customer": None,
    }
