"""The slow-command log shows what a command asked, never the values it carried."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.mongo import command_shape


def test_a_find_shows_its_fields_operators_and_sort_but_no_value() -> None:
    command = {
        "find": "tickets",
        "filter": {"phone": "+98 912 555 0101", "status": {"$in": ["new", "open"]}},
        "sort": {"last_contact_at": -1},
        "projection": {"opened_event": 0},
    }
    shape = command_shape("find", command)
    assert shape == {
        "filter": {"phone": "?", "status": {"$in": "?"}},
        "sort": {"last_contact_at": -1},
    }
    assert "+98" not in repr(shape)


def test_an_update_shows_its_first_statement_and_how_many_there_were() -> None:
    command = {
        "update": "customers",
        "updates": [
            {"q": {"_id": "c-1", "recent._id": {"$ne": "t-1"}}, "u": {"$set": {"name": "Nika"}}},
            {"q": {"_id": "c-2"}, "u": {"$set": {"name": "Maria"}}},
        ],
    }
    shape = command_shape("update", command)
    assert shape == {"statements": 2, "filter": {"_id": "?", "recent._id": {"$ne": "?"}}}
    assert "Nika" not in repr(shape) and "c-1" not in repr(shape)


def test_an_aggregate_shows_its_stages_and_a_claim_its_query() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    pipeline = [
        {"$match": {"query": "wifi пароль"}},
        {"$group": {"_id": "$query", "n": {"$sum": 1}}},
    ]
    shape = command_shape("aggregate", {"aggregate": "searches", "pipeline": pipeline})
    assert shape == {
        "pipeline": [{"$match": {"query": "?"}}, {"$group": {"_id": "?", "n": {"$sum": 1}}}]
    }
    claim = command_shape(
        "findAndModify", {"query": {"status": "pending", "send_at": {"$lte": at}}, "sort": {"a": 1}}
    )
    assert claim == {"query": {"status": "?", "send_at": {"$lte": "?"}}, "sort": {"a": 1}}
    assert command_shape("insert", {"insert": "x", "documents": [{"name": "Nika"}]}) == {}
