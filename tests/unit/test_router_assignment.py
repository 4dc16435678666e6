"""Who gets a ticket: qualification, availability, capacity per channel, the returning
customer's agent, least loaded, round robin; and the routing rules' checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.router.config import check_rules
from services.router.domain.assignment import AgentState, Needs, choose, drain
from services.router.domain.rules import AssignmentRules, RoutingRules
from services.router.domain.tickets import RoutedTicket, queue_key
from shared.business_calendar import load_calendars
from shared.config import ConfigError, load_yaml
from shared.directory import Agent, Directory, load_directory

CONFIG = Path(__file__).resolve().parents[2] / "config"
RULES = AssignmentRules()


def agent(person_id: str, **fields: Any) -> Agent:
    fields.setdefault("tier", "L1")
    fields.setdefault("skills", ["network"])
    fields.setdefault("languages", ["en"])
    fields.setdefault("capacity", {"email": 2, "chat": 1})
    return Agent(person_id=person_id, name=person_id, email=f"{person_id}@example.com", **fields)


def state(person_id: str, open_email: int = 0, **fields: Any) -> AgentState:
    extra = {k: fields.pop(k) for k in ("presence", "on_shift", "last_assigned") if k in fields}
    return AgentState(
        agent=agent(person_id, **fields), team="t", held={"email": open_email}, **extra
    )


def needs(**fields: Any) -> Needs:
    fields.setdefault("ticket_id", "new")
    fields.setdefault("channel", "email")
    fields.setdefault("tier", "L1")
    fields.setdefault("skill", "network")
    fields.setdefault("language", "en")
    return Needs(**fields)


def test_least_loaded_qualified_agent_wins_and_says_why() -> None:
    choice = choose(needs(), [state("a", 1), state("b", 0)], RULES)
    assert choice.agent_id == "b"
    assert "least loaded of 2" in choice.reason and "0 of 2 email" in choice.reason


def test_tier_skill_and_language_must_match() -> None:
    agents = [
        state("l2", tier="L2"),
        state("billing", skills=["billing"]),
        state("greek", languages=["el"]),
        state("right", 1, languages=["fa", "en"]),
    ]
    assert choose(needs(language="fa"), agents, RULES).agent_id == "right"


def test_offline_away_and_off_shift_agents_get_nothing() -> None:
    agents = [
        state("off", presence="offline"),
        state("away", presence="away"),
        state("night", on_shift=False),
    ]
    choice = choose(needs(), agents, RULES)
    assert choice.agent_id is None
    assert "none of 3 qualified agents free" in choice.reason
    assert "1 away" in choice.reason and "1 off shift" in choice.reason
    assert "1 offline" in choice.reason


def test_capacity_is_per_channel() -> None:
    full_chat = AgentState(
        agent=agent("a", capacity={"email": 5, "chat": 1}), team="t", held={"chat": 1}
    )
    assert choose(needs(channel="chat"), [full_chat], RULES).agent_id is None
    assert choose(needs(channel="email"), [full_chat], RULES).agent_id == "a"
    # A channel left out of the capacity takes no tickets of it.
    assert choose(needs(channel="phone"), [full_chat], RULES).agent_id is None


def test_returning_customer_gets_previous_agent_unless_overloaded() -> None:
    agents = [state("fresh", 0), state("previous", 1, capacity={"email": 10})]
    choice = choose(needs(previous_agents=("previous",)), agents, RULES)
    assert choice.agent_id == "previous"
    assert "helped this customer before" in choice.reason
    busy = [state("fresh", 0), state("previous", 9, capacity={"email": 10})]
    assert choose(needs(previous_agents=("previous",)), busy, RULES).agent_id == "fresh"


def test_round_robin_breaks_ties_by_oldest_assignment() -> None:
    agents = [
        state("a", last_assigned=30),
        state("b", last_assigned=10),
        state("c", last_assigned=20),
    ]
    assert choose(needs(), agents, RULES).agent_id == "b"


def test_requirement_nobody_meets_is_dropped_with_a_reason() -> None:
    choice = choose(needs(language="el", skill="vpn"), [state("a"), state("b", 1)], RULES)
    assert choice.agent_id == "a"
    assert "nobody at L1 has skill vpn" in choice.reason
    assert "nobody qualified speaks el" in choice.reason


def test_excluded_agent_is_skipped_unless_nobody_else_is_left() -> None:
    agents = [state("late"), state("next", 1)]
    assert choose(needs(excluded=frozenset({"late"})), agents, RULES).agent_id == "next"
    only = choose(needs(excluded=frozenset({"late"})), [state("late")], RULES)
    assert only.agent_id == "late" and "passed it on before" in only.reason


def test_holder_of_a_claimed_slot_keeps_the_ticket() -> None:
    holder = AgentState(agent=agent("h"), team="t", held={"email": 2}, claiming={"email": ("new",)})
    assert choose(needs(), [state("idle"), holder], RULES).agent_id == "h"


def test_drain_places_in_order_and_skips_tickets_nobody_can_take() -> None:
    agents = [state("a", capacity={"email": 1}), state("b", capacity={"email": 1})]
    waiting = [
        needs(ticket_id="first"),
        needs(ticket_id="billing", skill="billing", tier="L2"),
        needs(ticket_id="second"),
        needs(ticket_id="third"),
    ]
    placed, after = drain(waiting, agents, RULES, first_sequence=100)
    assert [p.ticket_id for p in placed] == ["first", "second"]
    assert sorted(a.load("email") for a in after) == [1, 1]


def ticket(**fields: Any) -> RoutedTicket:
    base: dict[str, Any] = {
        "ticket_id": "t",
        "customer_id": "c",
        "channel": "email",
        "category": "network",
        "priority": "P3",
        "tier": "L1",
        "team": "technical",
    }
    return RoutedTicket(**(base | fields))


def test_queue_orders() -> None:
    early_p4 = ticket(ticket_id="a", priority="P4", difficulty="easy", queued_seq=1)
    late_p1 = ticket(ticket_id="b", priority="P1", difficulty="hard", queued_seq=2)
    mid_medium = ticket(ticket_id="c", priority="P2", difficulty="medium", queued_seq=3)
    tickets = [late_p1, mid_medium, early_p4]

    def order(name: Any) -> list[str]:
        return [t.ticket_id for t in sorted(tickets, key=lambda t: queue_key(t, name))]

    assert order("fifo") == ["a", "b", "c"]
    assert order("priority") == ["b", "c", "a"]
    assert order("easiest_first") == ["a", "c", "b"]


def test_shipped_rules_pass_their_checks() -> None:
    rules = load_yaml(CONFIG / "routing.yaml", RoutingRules)
    directory = load_directory(CONFIG)
    calendars = load_calendars(CONFIG)
    check_rules(rules, directory, calendars.names, {"technical", "accounts", "service-desk"})
    assert rules.queues.order_for("technical") == "priority"
    assert rules.team_for_tier(directory, "service-desk", "L2") == "technical"
    assert rules.team_for_tier(directory, "accounts", "L2") == "accounts"


def test_checks_name_unknown_teams_calendars_and_unstaffed_tiers() -> None:
    directory = load_directory(CONFIG)
    data = directory.model_dump()
    data["teams"][2]["shift_calendar"] = "mars"
    broken = Directory.model_validate(data)
    rules = RoutingRules.model_validate(
        {"queues": {"teams": {"nobody": "fifo"}}, "escalation": {"teams_for_tier": {}}}
    )
    with pytest.raises(ConfigError) as caught:
        check_rules(rules, broken, load_calendars(CONFIG).names, {"service-desk"})
    message = str(caught.value)
    assert "'nobody'" in message
    assert "'mars'" in message
    assert "team 'service-desk' has no L2 agent" in message


def test_unknown_keys_and_bad_values_are_refused() -> None:
    with pytest.raises(ValueError, match="extra"):
        RoutingRules.model_validate({"assignment": {"capacity": 3}})
    with pytest.raises(ValueError):
        RoutingRules.model_validate({"queues": {"default_order": "random"}})
