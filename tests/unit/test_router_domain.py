"""The router's pure rules: classification in four languages, the priority matrix, agent choice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from services.router.domain import (
    RoutingRules,
    assignment_reason,
    check_teams,
    choose_agent,
    classify,
    priority_for,
)
from shared.config import ConfigError, load_yaml
from shared.directory import Directory, Team, load_directory

CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture(scope="module")
def rules() -> RoutingRules:
    return load_yaml(CONFIG / "routing.yaml", RoutingRules)


@pytest.fixture(scope="module")
def directory() -> Directory:
    return load_directory(CONFIG)


def _team(directory: Directory, name: str) -> Team:
    team = directory.team(name)
    assert team is not None
    return team


def test_english_wifi_trouble_is_network(rules: RoutingRules) -> None:
    result = classify("My wifi keeps disconnecting", "", rules)
    assert result.category.name == "network"
    assert result.category.subcategory == "wifi"
    assert result.category.team == "technical"
    assert result.matched == ("wifi", "disconnecting")
    assert result.reason == "matched keywords wifi, disconnecting for network/wifi"


def test_persian_with_arabic_letter_forms_is_network(rules: RoutingRules) -> None:
    # Arabic yeh in "اينترنت" and Arabic kaf in "شبكه" must fold to the Persian forms.
    result = classify("اينترنت قطع است", "شبكه كار نمي‌كند", rules)
    assert result.category.name == "network"
    assert set(result.matched) == {"اینترنت", "قطع", "شبکه"}


def test_russian_forgotten_password_is_account(rules: RoutingRules) -> None:
    result = classify("Не могу войти, забыл пароль", "", rules)
    assert result.category.name == "account"
    assert result.category.team == "accounts"
    assert set(result.matched) == {"войти", "пароль"}


def test_greek_invoice_problem_is_billing_despite_accents(rules: RoutingRules) -> None:
    result = classify("Πρόβλημα με το τιμολόγιο", "", rules)
    assert result.category.name == "billing"
    assert result.category.subcategory == "invoice"


def test_text_without_keywords_goes_to_default_category(rules: RoutingRules) -> None:
    result = classify("Hello", "I would like to say thanks to your team", rules)
    assert result.category.name == "general"
    assert result.category.team == "service-desk"
    assert result.matched == ()
    assert "default category general" in result.reason


def test_most_hits_wins_and_ties_go_to_first_listed(rules: RoutingRules) -> None:
    # One hit each for network ("internet") and billing ("invoice"): network is listed first.
    assert classify("internet invoice", "", rules).category.name == "network"
    # Two billing hits beat one network hit.
    assert classify("internet invoice refund", "", rules).category.name == "billing"


def test_hyphenated_wi_fi_matches_its_parts(rules: RoutingRules) -> None:
    assert classify("Wi-Fi is down", "", rules).category.name == "network"


@pytest.mark.parametrize(
    ("impact", "urgency", "expected"),
    [
        ("high", "high", "P1"),
        ("high", "low", "P3"),
        ("medium", "high", "P2"),
        ("medium", "medium", "P3"),
        ("low", "medium", "P4"),
        ("low", "low", "P4"),
    ],
)
def test_priority_follows_the_impact_urgency_matrix(
    rules: RoutingRules, impact: Any, urgency: Any, expected: str
) -> None:
    assert priority_for(impact, urgency, rules.priority_matrix) == expected


def test_incomplete_priority_matrix_is_rejected(rules: RoutingRules) -> None:
    raw = rules.model_dump()
    del raw["priority_matrix"]["low"]["high"]
    with pytest.raises(ValidationError, match="impact=low urgency=high"):
        RoutingRules.model_validate(raw)


def test_category_naming_an_unknown_team_is_a_clear_config_error(
    rules: RoutingRules, directory: Directory
) -> None:
    raw = rules.model_dump()
    raw["categories"][1]["team"] = "no-such-team"
    broken = RoutingRules.model_validate(raw)
    with pytest.raises(ConfigError, match="category 'account' names team 'no-such-team'"):
        check_teams(broken, directory)


def test_shipped_config_names_only_known_teams(rules: RoutingRules, directory: Directory) -> None:
    check_teams(rules, directory)


def test_least_loaded_agent_is_chosen(directory: Directory) -> None:
    technical = _team(directory, "technical")
    agent = choose_agent(technical, {"ag-nika": 3, "ag-sergei": 1, "ag-maria": 2})
    assert agent is not None and agent.person_id == "ag-sergei"
    assert assignment_reason(technical, agent, {"ag-sergei": 1}) == (
        "least loaded in technical: 1 of 10 open tickets"
    )


def test_ties_go_to_the_agent_listed_first(directory: Directory) -> None:
    technical = _team(directory, "technical")
    agent = choose_agent(technical, {})
    assert agent is not None and agent.person_id == "ag-nika"
    agent = choose_agent(technical, {"ag-nika": 1, "ag-sergei": 0, "ag-maria": 0})
    assert agent is not None and agent.person_id == "ag-sergei"


def test_agents_at_capacity_are_skipped(directory: Directory) -> None:
    technical = _team(directory, "technical")
    agent = choose_agent(technical, {"ag-nika": 10, "ag-sergei": 10, "ag-maria": 9})
    assert agent is not None and agent.person_id == "ag-maria"


def test_no_agent_when_everyone_is_at_capacity(directory: Directory) -> None:
    accounts = _team(directory, "accounts")
    assert choose_agent(accounts, {"ag-john": 10, "ag-olga": 12}) is None
