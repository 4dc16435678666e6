"""A batch's board changes as one write per row, the same as applying them one by one; and
digest slots given to a batch's messages in order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.notifier.domain.board import Change, RowWrite, coalesce, is_stale, merged
from services.notifier.domain.deliveries import Job, in_digest_slots
from services.notifier.domain.notices import Notice

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def change(ticket_id: str, group: str, seconds: float, **fields: Any) -> Change:
    return Change(ticket_id, group, at(seconds), fields)


def one_by_one(changes: list[Change], row: dict[str, Any] | None) -> dict[str, Any] | None:
    for each in changes:
        if not is_stale(row, each):
            row = merged(row, each)
    return row


def written(write: RowWrite, row: dict[str, Any] | None) -> dict[str, Any]:
    """The row after the write (its guards held)."""
    for group in write.groups:
        row = merged(row, Change(write.ticket_id, group.group, group.at, group.fields))
    assert row is not None
    return row


def test_changes_of_one_row_become_one_write_of_each_group_in_order() -> None:
    batch = [
        change("t-1", "routing", 1, team="technical", category="network"),
        change("t-2", "opened", 1, subject="hello"),
        change("t-1", "routing", 2, assignee_id="ag-nika", team="technical"),
        change("t-1", "sla:first_response", 2, **{"clocks.first_response.colour": "green"}),
        change("t-1", "routing", 1.5, assignee_id="ag-old"),  # older than the one before it
        change("t-1", "routing", 3, assignee_id="ag-sergei"),
    ]
    first, second = coalesce(batch)
    assert (first.ticket_id, second.ticket_id) == ("t-1", "t-2")
    routing, clock = first.groups
    assert (routing.group, routing.since, routing.at) == ("routing", at(1), at(3))
    assert routing.fields == {
        "team": "technical",
        "category": "network",
        "assignee_id": "ag-sergei",
    }
    assert (clock.group, clock.since, clock.at) == ("sla:first_response", at(2), at(2))
    assert written(first, None) == one_by_one([c for c in batch if c.ticket_id == "t-1"], None)


def test_against_the_rows_read_again_only_their_fresher_changes_are_written() -> None:
    row = one_by_one([change("t-1", "routing", 2, assignee_id="ag-nika")], None)
    assert row is not None
    batch = [
        change("t-1", "routing", 1, assignee_id="ag-old", queued=True),
        change("t-1", "routing", 3, assignee_id="ag-sergei"),
        change("t-1", "opened", 0, subject="hello"),
    ]
    [write] = coalesce(batch, {"t-1": row})
    assert [(g.group, g.since, g.fields) for g in write.groups] == [
        ("routing", at(3), {"assignee_id": "ag-sergei"}),
        ("opened", at(0), {"subject": "hello"}),
    ]
    assert written(write, row) == one_by_one(batch, row)
    assert coalesce([change("t-1", "routing", 1, queued=True)], {"t-1": row}) == []


def _job(key: str, recipient: str, send_at: datetime, digest: bool = True) -> Job:
    notice = Notice(
        kind="sla_warning",
        event_id=key,
        event_type="sla.warning",
        occurred_at=T0,
        ticket_id=key,
        reference="HD-AAAAAA",
    )
    return Job(
        key=key,
        channel="email",
        recipient=recipient,
        notice=notice,
        ticket_id=key,
        cause_event_id=key,
        send_at=send_at,
        created_at=send_at,
        fold_key=f"{recipient}:email" if digest else None,
    )


def test_a_batchs_digestible_messages_take_their_slots_in_order() -> None:
    window = timedelta(minutes=5)
    jobs = [
        _job("a", "ag-nika", at(0)),
        _job("b", "ag-nika", at(1)),
        _job("c", "ag-john", at(1)),
        _job("d", "ag-nika", at(2)),
        _job("e", "ag-nika", at(2), digest=False),
    ]
    # John was mailed a minute ago; Nika not within the window.
    last = {"ag-nika:email": at(-600), "ag-john:email": at(-60)}
    placed = {job.key: job.send_at for job in in_digest_slots(jobs, last, window)}
    assert placed == {
        "a": at(0),  # at once: nothing within the window
        "b": at(300),  # the next slot, where what follows folds in
        "c": at(240),  # one window after John's last
        "d": at(300),
        "e": at(2),  # not digestible
    }
