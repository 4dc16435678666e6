"""Agents' slot changes: their keys, the records a save keeps, and what becomes of a change a
crash or a lost race left in flight."""

from __future__ import annotations

from services.router.domain.assignment import AgentState, Needs, choose
from services.router.domain.rules import AssignmentRules
from services.router.domain.slots import KEPT_SAVES, NEW, SlotChange, claim, fate, kept, release
from shared.directory import Agent


def _claim(base: int = NEW, cause: str = "c1") -> SlotChange:
    return claim("ag-1", "chat", "t-1", base, cause, capacity=3, sequence=7)


def test_the_same_input_on_the_same_revision_makes_the_same_key() -> None:
    assert _claim().key == claim("ag-1", "chat", "t-1", NEW, "c1", capacity=9, sequence=1).key
    assert _claim(cause="c2").key != _claim().key
    assert _claim(base=0).key != _claim().key
    assert release("ag-1", "chat", "t-1", NEW, "c1").key != _claim().key
    assert SlotChange.parse("ag-1", "chat", _claim().key) == _claim()
    assert _claim().record == f"ag-1/{_claim().key}"


def test_a_change_waits_while_its_ticket_is_at_its_base() -> None:
    assert fate(_claim(), None, ()) == "wait"  # a new ticket not inserted yet
    assert fate(_claim(base=3), 3, ()) == "wait"
    assert fate(_claim(base=3), 3, (), abandoned=True) == "undo"


def test_past_its_base_a_change_counts_only_if_that_save_made_it_final() -> None:
    mine, other = _claim(), _claim(cause="c2")
    assert fate(mine, 0, (mine.record,)) == "settle"
    assert fate(other, 0, (mine.record,)) == "undo"  # lost the race for the same revision
    freed = release("ag-1", "chat", "t-1", 4, "c3")
    assert fate(freed, 5, (freed.record,)) == "settle"
    assert fate(freed, 5, ()) == "undo"


def test_a_change_older_than_the_record_errs_towards_a_slot_too_many() -> None:
    far = 1 + KEPT_SAVES + 1
    assert fate(_claim(base=0), far + 1, ()) == "settle"
    assert fate(release("ag-1", "chat", "t-1", 0, "c"), far + 1, ()) == "undo"


def test_a_save_keeps_the_records_its_later_judges_may_ask_about() -> None:
    old = [_claim(base=b, cause=f"c{b}").record for b in range(20)]
    assert [r.split("|")[1] for r in kept(old, 19)] == [str(b) for b in range(11, 20)]
    assert kept([*old[:2], old[0]], 1) == tuple(old[:2])


def test_a_slot_claimed_before_a_crash_goes_to_the_same_agent_again() -> None:
    def agent(n: int) -> Agent:
        return Agent(
            person_id=f"ag-{n}",
            name=f"A{n}",
            email=f"a{n}@example.com",
            tier="L1",
            capacity={"chat": 3},
        )

    idle = AgentState(agent=agent(1), team="t")
    holder = AgentState(agent=agent(2), team="t", held={"chat": 2}, claiming={"chat": ("t-1",)})
    choice = choose(Needs("t-1", "chat", "L1"), [idle, holder], AssignmentRules())
    assert choice.agent_id == "ag-2"
    # Taking a ticket it already claimed counts nothing more.
    assert holder.with_ticket("chat", "t-1", 9) is holder
    assert idle.with_ticket("chat", "t-2", 9).load("chat") == 1
