"""The ticket views through the notifier's subscribers (in-memory store, batches through the
consumer kit): a batch is one store call whatever it holds, suggestions come on the
knowledge-base topic, a search stays in the caller's scope, and a view's change is told to the
people who may open the ticket, before and after a transfer, and to nobody else."""

from __future__ import annotations

from datetime import timedelta

from services.notifier.domain.workspace import Scope
from shared.events import (
    ArticleMatch,
    KbSearched,
    KbSuggested,
    TicketNoteAdded,
    TicketTransferred,
)
from tests.unit.test_notifier_service import T0, Connection, Desk, assigned, memory, opened, routed

LIVE = "notifier.on_live_push"
SHARED = "notifier.on_events"


def note(ticket_id: str, body: str, seconds: float = 5) -> TicketNoteAdded:
    return TicketNoteAdded(
        ticket_id=ticket_id,
        agent_id="ag-nika",
        body=body,
        occurred_at=T0 + timedelta(seconds=seconds),
    )


async def test_a_batch_writes_its_views_with_the_board_in_one_store_call() -> None:
    desk = Desk()
    await desk.feed("tickets", opened("t-1"), note("t-1", "first"), note("t-2", "other"))
    await desk.feed("routing", routed("t-1"), assigned("t-1"))
    suggested = KbSuggested(
        ticket_id="t-1",
        language="en",
        articles=[ArticleMatch(article_id="wifi-drops", title="Wifi", language="en", score=1)],
    )
    searched = KbSearched(query_id="q-1", query="wifi", result_count=1)
    await desk.feed("kb", suggested, searched, subscriber=SHARED)

    assert desk.letters == []
    assert desk.store.calls["apply_board"] == 3
    view = memory(desk).views["t-1"]
    assert [e["event_type"] for e in view["timeline"]] == [
        "ticket.opened",
        "ticket.routed",
        "ticket.assigned",
        "ticket.note_added",
    ]
    assert [s["article_id"] for s in view["suggestions"]] == ["wifi-drops"]
    assert set(memory(desk).views) == {"t-1", "t-2"}


async def test_a_search_stays_in_the_callers_scope() -> None:
    desk = Desk()
    await desk.feed("tickets", opened("t-1"), opened("t-2"), note("t-1", "Router at home"))
    await desk.feed("routing", routed("t-1"), routed("t-2", team="accounts"))
    store = memory(desk)

    technical = Scope("ag-maria", ("technical",))
    accounts = Scope("ag-john", ("accounts",))
    assert [v["_id"] for v in await store.search_ticket_views(technical, "router", 20)] == ["t-1"]
    assert await store.search_ticket_views(accounts, "router", 20) == []
    assert await store.search_ticket_views(technical, "rout.r", 20) == []
    [listed] = await store.search_ticket_views(technical, "ROUTER", 20)
    assert "timeline" not in listed


async def test_a_views_change_is_told_to_its_people_before_and_after_a_transfer() -> None:
    desk = Desk()
    maria, john, dina = Connection(), Connection(), Connection()
    for person, console in (("ag-maria", maria), ("ag-john", john), ("ag-dina", dina)):
        desk.hub.add(person, console)
    await desk.feed("routing", assigned("t-1"), subscriber=LIVE)
    await desk.feed("tickets", note("t-1", "call back", 2), subscriber=LIVE)
    transfer = TicketTransferred(
        ticket_id="t-1",
        from_agent_id="ag-nika",
        to_team="accounts",
        from_team="technical",
        transfer_count=1,
        reason="a billing question",
        occurred_at=T0 + timedelta(seconds=3),
    )
    await desk.feed("routing", transfer, subscriber=LIVE)

    def told(console: Connection) -> list[str]:
        return [m["data"]["updated_at"] for m in console.received if m["type"] == "ticket_view"]

    at = [(T0 + timedelta(seconds=s)).isoformat() for s in (0, 2, 3)]
    assert told(maria) == at
    assert told(john) == at[2:]
    assert told(dina) == []
    assert {
        tuple(m["data"]) for c in (maria, john) for m in c.received if m["type"] == "ticket_view"
    } == {("ticket_id", "updated_at")}
