"""The router's tier rules: how technical a customer's wording is, how their history moves
their level, the starting tier table and escalation to the next tier."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from services.router.config import load_triage
from services.router.domain.tiers import (
    CustomerHistory,
    TierRules,
    next_tier,
    reached,
    remember,
    starting_tier,
    technical_level,
    technical_tokens,
    wording_score,
)
from services.router.domain.vocabulary import Difficulty, TechLevel, Tier
from shared.text import terms

CONFIG = Path(__file__).resolve().parents[2] / "config"
STARTING: dict[str, dict[str, str]] = {
    "easy": {"novice": "L1", "intermediate": "L1", "expert": "L1"},
    "medium": {"novice": "L1", "intermediate": "L1", "expert": "L2"},
    "hard": {"novice": "L2", "intermediate": "L2", "expert": "L3"},
}


@pytest.fixture(scope="module")
def rules() -> TierRules:
    return load_triage(CONFIG).tiers


def _config(**changes: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "starting": {difficulty: dict(row) for difficulty, row in STARTING.items()},
        "technical_cues": {"en": ["dns"]},
        "expert_from": 0.85,
        "intermediate_from": 0.45,
        "history_weight": 0.5,
    }
    config.update(changes)
    return config


def test_plain_wording_scores_zero(rules: TierRules) -> None:
    assert wording_score("My computer is slow and the screen is blue", "en", rules) == (0.0, ())


def test_each_distinct_cue_halves_the_distance_to_one(rules: TierRules) -> None:
    assert wording_score("dns fails", "en", rules) == (0.5, ("dns",))
    assert wording_score("dns fails, DNS again, dns", "en", rules)[0] == 0.5
    assert wording_score("dns fails and ping times out", "en", rules)[0] == 0.75
    score, cues = wording_score("dns fails, ping times out, traceroute stops", "en", rules)
    assert score == 0.875
    assert set(cues) == {"dns", "ping", "traceroute"}


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("Сервер не отвечает после того, как обновили прошивку", "ru", {"сервер", "прошивку"}),
        ("Η διεύθυνση IP του διακομιστή άλλαξε", "el", {"διεύθυνση ip", "διακομιστή"}),
        ("آی‌پی سرور عوض شده است", "fa", {"آی‌پی", "سرور"}),
        ("آیپی سرور عوض شده است", "fa", {"آی‌پی", "سرور"}),
        (
            "The log file shows error code 5 on the gateway",
            "en",
            {"log file", "error code", "gateway"},
        ),
    ],
)
def test_technical_cues_in_each_language(
    rules: TierRules, text: str, language: str, expected: set[str]
) -> None:
    _, cues = wording_score(text, language, rules)
    assert set(cues) == expected


def test_english_technical_terms_count_in_other_languages(rules: TierRules) -> None:
    _, cues = wording_score("По ssh не пускает, dns не резолвит", "ru", rules)
    assert set(cues) == {"ssh", "dns"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ping 192.168.1.10 fails", "IPv4 address 192.168.1.10"),
        ("adapter AA:BB:CC:DD:EE:0F drops", "MAC address aa:bb:cc:dd:ee:0f"),
        ("adapter 00-1a-2b-3c-4d-5e drops", "MAC address 00-1a-2b-3c-4d-5e"),
        ("update failed with 0x80070005", "error code 0x80070005"),
        ("after upgrading to 10.2.3 it crashes", "version 10.2.3"),
        ("client v4.12.0.7 hangs", "version v4.12.0.7"),
    ],
)
def test_technical_tokens_by_pattern(text: str, expected: str) -> None:
    assert technical_tokens(text) == (expected,)


@pytest.mark.parametrize(
    "text",
    [
        "it broke on 12.05.2024",
        "the bill was 10.50 euros",
        "I have 2 computers",
        "call me at 555-0100",
        "room 4.2",
    ],
)
def test_everyday_numbers_are_not_technical_tokens(text: str) -> None:
    assert technical_tokens(text) == ()


def test_an_address_is_not_also_a_version_and_each_kind_counts_once() -> None:
    assert technical_tokens("10.0.0.1 and 10.0.0.2 time out") == ("IPv4 address 10.0.0.1",)


def test_patterns_and_cues_add_up(rules: TierRules) -> None:
    score, cues = wording_score("ping 10.0.0.1 fails since firmware 2.4.1", "en", rules)
    assert set(cues) == {"ping", "firmware", "IPv4 address 10.0.0.1", "version 2.4.1"}
    assert score == 0.9375


@pytest.mark.parametrize(
    ("wording", "level"), [(0.0, "novice"), (0.5, "intermediate"), (0.875, "expert")]
)
def test_wording_alone_sets_the_level_for_a_new_customer(
    rules: TierRules, wording: float, level: TechLevel
) -> None:
    found, reason = technical_level(wording, CustomerHistory(), rules)
    assert found == level
    assert reason == f"{level}: wording {wording:.2f}, no past tickets"


def test_a_technical_history_lifts_plain_wording(rules: TierRules) -> None:
    history = CustomerHistory(tickets=9, technical_score=1.0)
    level, reason = technical_level(0.25, history, rules)
    assert level == "intermediate"
    assert reason == "intermediate: wording 0.25 and 9 past tickets averaging 1.00 give 0.59"


def test_a_plain_history_tempers_technical_wording(rules: TierRules) -> None:
    level, _ = technical_level(0.875, CustomerHistory(tickets=9, technical_score=0.0), rules)
    assert level == "intermediate"


def test_one_past_ticket_counts_less_than_many(rules: TierRules) -> None:
    one, _ = technical_level(0.9375, CustomerHistory(tickets=1, technical_score=0.7), rules)
    many, _ = technical_level(0.9375, CustomerHistory(tickets=20, technical_score=0.7), rules)
    assert (one, many) == ("expert", "intermediate")


def test_history_weight_zero_ignores_history() -> None:
    rules = TierRules.model_validate(_config(history_weight=0.0))
    level, _ = technical_level(0.875, CustomerHistory(tickets=50, technical_score=0.0), rules)
    assert level == "expert"


@pytest.mark.parametrize(
    ("wording", "highest", "level", "note"),
    [
        (0.0, "L2", "intermediate", "raised to intermediate: a past ticket reached L2"),
        (0.5, "L2", "intermediate", None),
        (0.0, "L3", "intermediate", "raised to intermediate: a past ticket reached L3"),
        (0.5, "L3", "expert", "raised to expert: a past ticket reached L3"),
        (0.875, "L3", "expert", None),
        (0.0, "L1", "novice", None),
    ],
)
def test_past_tickets_that_reached_higher_tiers_raise_the_level(
    rules: TierRules, wording: float, highest: Tier, level: TechLevel, note: str | None
) -> None:
    history = CustomerHistory(tickets=1, technical_score=wording, highest_tier=highest)
    found, reason = technical_level(wording, history, rules)
    assert found == level
    assert (note in reason) if note else ("raised" not in reason)


def test_remember_keeps_a_running_mean_and_the_highest_tier() -> None:
    history = remember(CustomerHistory(), 0.5, "L2")
    assert history == CustomerHistory(tickets=1, technical_score=0.5, highest_tier="L2")
    history = remember(history, 1.0, "L1")
    assert history == CustomerHistory(tickets=2, technical_score=0.75, highest_tier="L2")
    history = remember(history, 0.0, "L3")
    assert history == CustomerHistory(tickets=3, technical_score=0.5, highest_tier="L3")


def test_reached_records_an_escalation_without_counting_a_ticket() -> None:
    history = CustomerHistory(tickets=2, technical_score=0.5, highest_tier="L1")
    assert reached(history, "L3") == CustomerHistory(2, 0.5, "L3")
    assert reached(CustomerHistory(2, 0.5, "L3"), "L2").highest_tier == "L3"


@pytest.mark.parametrize(
    "fields",
    [{"tickets": -1}, {"technical_score": 1.5}, {"highest_tier": "L9"}],
)
def test_customer_history_rejects_impossible_values(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(fields))):
        CustomerHistory(**fields)


def test_technical_level_rejects_a_score_outside_zero_to_one(rules: TierRules) -> None:
    with pytest.raises(ValueError, match="wording"):
        technical_level(1.5, CustomerHistory(), rules)


@pytest.mark.parametrize("difficulty", ["easy", "medium", "hard"])
@pytest.mark.parametrize("level", ["novice", "intermediate", "expert"])
def test_starting_tier_table(rules: TierRules, difficulty: Difficulty, level: TechLevel) -> None:
    tier, reason = starting_tier(difficulty, level, rules)
    assert tier == STARTING[difficulty][level]
    assert reason == f"starts at {tier}: {difficulty} problem, {level} customer"


@pytest.mark.parametrize(("tier", "following"), [("L1", "L2"), ("L2", "L3"), ("L3", None)])
def test_next_tier(tier: Tier, following: Tier | None) -> None:
    assert next_tier(tier) == following


def test_config_rejects_an_incomplete_starting_table() -> None:
    starting = {difficulty: dict(row) for difficulty, row in STARTING.items()}
    del starting["hard"]["expert"]
    del starting["easy"]
    with pytest.raises(ValidationError) as error:
        TierRules.model_validate(_config(starting=starting))
    assert "it lacks easy x novice, easy x intermediate, easy x expert, hard x expert" in str(
        error.value
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"intermediate_from": 0.9}, "must be below expert_from"),
        ({"history_weight": 1.5}, "history_weight"),
        ({"expert_from": 0}, "expert_from"),
        ({"technical_cues": {"en": ["dns", "..."]}}, "has no words"),
        ({"technical_cues": {"xx": ["dns"]}}, "technical_cues.xx"),
        ({"starting": {**STARTING, "easy": {**STARTING["easy"], "novice": "L4"}}}, "L4"),
        ({"surprise": True}, "extra"),
    ],
)
def test_config_rejects_bad_tier_rules(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        TierRules.model_validate(_config(**changes))


def test_shipped_technical_cues_do_not_overlap(rules: TierRules) -> None:
    # A cue inside a longer one ("ip" in "ip address") would count one mention twice.
    for language, cues in rules.technical_cues.items():
        searched = cues + (rules.technical_cues["en"] if language != "en" else [])
        folded = {cue: " " + " ".join(terms(cue)) + " " for cue in searched}
        for cue, words in folded.items():
            inside = [other for other, longer in folded.items() if other != cue and words in longer]
            assert not inside, f"{language}: {cue!r} is inside {inside}"
