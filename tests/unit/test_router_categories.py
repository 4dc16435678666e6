"""The category tree: validation, keyword matching in four languages, items, the noisy-OR."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from services.router.config import check_teams
from services.router.domain.categories import CategoryTree, classify
from services.router.domain.keywords import TicketText, fold_keyword
from shared.config import ConfigError, load_yaml

CONFIG = Path(__file__).resolve().parents[2] / "config"


def tree_data(**classification: Any) -> dict[str, Any]:
    return {
        "classification": {"threshold": 0.45, "rule_hit_weight": 0.5, **classification},
        "uncategorised": {
            "team": "service-desk",
            "difficulty": "easy",
            "impact": "low",
            "urgency": "medium",
        },
        "categories": [
            {
                "name": "network",
                "team": "technical",
                "skill": "network",
                "subcategories": [
                    {
                        "name": "wifi",
                        "difficulty": "easy",
                        "impact": "medium",
                        "urgency": "medium",
                        "keywords": {"en": ["wifi", "keeps dropping"], "ru": ["wifi"]},
                        "patterns": {"en": [r"\b5 ?ghz\b"]},
                        "items": [
                            {"name": "router", "keywords": {"en": ["router"], "ru": ["роутер*"]}},
                            {"name": "extender", "keywords": {"en": ["extender", "repeater"]}},
                        ],
                    },
                    {
                        "name": "vpn",
                        "team": "security",
                        "skill": "vpn",
                        "difficulty": "hard",
                        "impact": "medium",
                        "urgency": "medium",
                        "keywords": {"en": ["vpn"], "fa": ["فیلترشکن"]},
                    },
                ],
            },
            {
                "name": "account",
                "team": "accounts",
                "subcategories": [
                    {
                        "name": "password",
                        "difficulty": "easy",
                        "impact": "low",
                        "urgency": "medium",
                        "keywords": {
                            "en": ["password", "locked out"],
                            "fa": ["رمز عبور", "کلید"],
                            "ru": ["парол*"],
                            "el": ["κωδικός", "επαναφορά κωδικ*"],
                        },
                    }
                ],
            },
        ],
    }


@pytest.fixture
def tree() -> CategoryTree:
    return CategoryTree.model_validate(tree_data())


def test_the_shipped_tree_has_the_ten_labels_and_known_teams() -> None:
    tree = load_yaml(CONFIG / "categories.yaml", CategoryTree)
    assert tree.labels == (
        "network/wifi",
        "network/outage",
        "network/vpn",
        "account/password",
        "account/access",
        "billing/invoice",
        "billing/refund",
        "software/installation",
        "software/crash",
        "hardware/device",
    )
    teams = yaml.safe_load((CONFIG / "teams.yaml").read_text(encoding="utf-8"))["teams"]
    check_teams(tree, [team["name"] for team in teams])
    assert tree.classification.threshold == 0.45
    assert tree.classification.examples_dir == "routing-examples"


@pytest.mark.parametrize(
    ("text", "language", "label", "item"),
    [
        ("My WIFI keeps dropping and the router blinks red", "en", "network/wifi", "router"),
        ("وای‌فای قطع و وصل میشه، مودم رو ریستارت کردم", "fa", "network/wifi", "router"),
        ("Вайфай пропадает, роутер перезагружал", "ru", "network/wifi", "router"),
        (
            "Το ασύρματο δίκτυο αποσυνδέεται συνέχεια, το ρούτερ αναβοσβήνει",
            "el",
            "network/wifi",
            "router",
        ),
        ("Ξέχασα τον ΚΩΔΙΚΌ πρόσβασης", "el", "account/password", None),
        ("كلمه عبور را فراموش كردم، رمز عبور جديد مي‌خواهم", "fa", "account/password", None),
        ("Приложение вылетает на айфоне", "ru", "software/crash", "mobile-app"),
        ("Χρεώθηκα δύο φορές, θέλω επιστροφή χρημάτων", "el", "billing/refund", None),
        (
            "The printer says paper jam and the device won't turn on",
            "en",
            "hardware/device",
            "printer",
        ),
    ],
)
def test_the_shipped_keywords_route_tickets_in_each_language(
    text: str, language: str, label: str, item: str | None
) -> None:
    tree = load_yaml(CONFIG / "categories.yaml", CategoryTree)
    result = classify(text, language, tree, {})
    assert (result.label, result.item) == (label, item)


def test_a_config_error_names_the_unknown_field(tmp_path: Path) -> None:
    data = tree_data()
    data["categories"][0]["subcategories"][0]["urgncy"] = "high"
    path = tmp_path / "categories.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match="urgncy"):
        load_yaml(path, CategoryTree)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["categories"].append(d["categories"][1]), "categories listed twice: account"),
        (
            lambda d: d["categories"][0]["subcategories"].append(
                d["categories"][0]["subcategories"][1]
            ),
            "subcategories of network listed twice: vpn",
        ),
        (
            lambda d: d["categories"][0]["subcategories"][0]["items"].append({"name": "router"}),
            "items of wifi listed twice: router",
        ),
        (
            lambda d: d["categories"][0]["subcategories"][0]["patterns"].update(en=["(unclosed"]),
            "pattern '\\(unclosed' is not a regex",
        ),
        (
            lambda d: d["categories"][0]["subcategories"][0]["patterns"].update(en=["x*"]),
            "matches empty text",
        ),
        (
            lambda d: d["categories"][1]["subcategories"][0]["keywords"].update(ru=["па*"]),
            "a stem needs 3 letters",
        ),
        (
            lambda d: d["categories"][1]["subcategories"][0]["keywords"].update(ru=["!!"]),
            "no letters",
        ),
        (
            lambda d: d["categories"][1]["subcategories"][0]["keywords"].update(de=["x"]),
            "keywords.de",
        ),
        (lambda d: d["categories"][1].update(name="uncategorised"), "reserved"),
        (lambda d: d["categories"][1].update(name="Account/X"), "categories.1.name"),
        (lambda d: d["classification"].update(threshold=1.5), "threshold"),
    ],
)
def test_invalid_trees_are_rejected_with_a_clear_message(change: Any, message: str) -> None:
    data = tree_data()
    change(data)
    with pytest.raises(ValidationError, match=message):
        CategoryTree.model_validate(data)


def test_check_teams_names_teams_missing_from_teams_yaml(tree: CategoryTree) -> None:
    with pytest.raises(ConfigError, match=r"\['security'\]"):
        check_teams(tree, ["technical", "accounts", "service-desk"])


def test_keywords_match_across_case_accents_and_letter_forms(tree: CategoryTree) -> None:
    greek = classify("Ο ΚΩΔΙΚΟΣ δεν δουλεύει", "el", tree, {})
    assert (greek.label, greek.reason.split(" for ")[0]) == (
        "account/password",
        "no model score and keywords κωδικός",
    )
    # Arabic kaf and yeh in the ticket meet the Persian forms in the config.
    assert classify("كليد را گم كردم", "fa", tree, {}).label == "account/password"
    # A half-space in the ticket splits words as it does in the keyword.
    assert classify("رمز‌عبور", "fa", tree, {}).label == "account/password"
    # Russian: case and, through the stem, inflection.
    assert classify("Не помню ПАРОЛЯ", "ru", tree, {}).label == "account/password"
    assert classify("Вход паролем", "ru", tree, {}).label == "account/password"
    assert classify("επαναφορά κωδικού", "el", tree, {}).confidence == 0.5


def test_phrases_match_only_as_consecutive_words() -> None:
    ticket = TicketText("I am Locked-out of everything, out of luck")
    assert ticket.spans(fold_keyword("locked out")) == [(2, 4)]
    assert ticket.spans(fold_keyword("out locked")) == []
    assert ticket.spans(fold_keyword("out of")) == [(3, 5), (6, 8)]
    assert TicketText("locked").spans(fold_keyword("locked out")) == []


def test_a_keyword_inside_a_longer_hit_does_not_count_again() -> None:
    tree = load_yaml(CONFIG / "categories.yaml", CategoryTree)
    result = classify("χρεώθηκα δύο φορές", "el", tree, {})
    assert result.reason.startswith("no model score and keywords χρεώθηκα δύο φορές for")
    assert result.confidence == 0.5


def test_a_keyword_in_several_languages_counts_once_named_in_the_tickets_language(
    tree: CategoryTree,
) -> None:
    result = classify("wifi", "ru", tree, {})
    assert result.confidence == 0.5
    assert "keywords wifi" in result.reason


def test_the_item_with_most_hits_wins_and_ties_go_to_the_first_listed(tree: CategoryTree) -> None:
    assert classify("wifi: the repeater and the extender", "en", tree, {}).item == "extender"
    assert classify("wifi: the extender and the router", "en", tree, {}).item == "router"
    assert classify("wifi is slow", "en", tree, {}).item is None
    # Item keywords are evidence for their subcategory too.
    assert classify("роутеры мигают", "ru", tree, {}).label == "network/wifi"


def test_patterns_are_searched_in_the_folded_text(tree: CategoryTree) -> None:
    result = classify("Nothing on 5 GHz", "en", tree, {})
    assert (result.label, result.confidence) == ("network/wifi", 0.5)
    assert "keywords 5 ghz" in result.reason


def test_model_and_rules_combine_by_noisy_or(tree: CategoryTree) -> None:
    model_only = classify("hello", "en", tree, {"network/vpn": 0.8, "network/wifi": 0.2})
    assert model_only.label == "network/vpn"
    assert model_only.confidence == pytest.approx(0.8)
    # 1 - (1 - 0.3)(1 - 0.5) = 0.65 beats a model score of 0.6 with no keyword.
    one_hit = classify("router", "en", tree, {"network/wifi": 0.3, "network/vpn": 0.6})
    assert one_hit.label == "network/wifi"
    assert one_hit.confidence == pytest.approx(0.65)
    # Two hits: 1 - 0.5^2 = 0.75, then 1 - (1 - 0.2)(1 - 0.75) = 0.8.
    two_hits = classify("wifi keeps dropping", "en", tree, {"network/wifi": 0.2})
    assert two_hits.confidence == pytest.approx(0.8)
    assert two_hits.reason == (
        "model 0.20 and keywords wifi, keeps dropping for network/wifi: confidence 0.80"
    )


def test_the_leaf_gives_team_skill_and_levels_with_overrides(tree: CategoryTree) -> None:
    vpn = classify("vpn", "en", tree, {})
    assert (vpn.category, vpn.subcategory, vpn.team, vpn.skill) == (
        "network",
        "vpn",
        "security",
        "vpn",
    )
    assert (vpn.difficulty, vpn.impact, vpn.urgency) == ("hard", "medium", "medium")
    wifi = classify("wifi", "en", tree, {})
    assert (wifi.team, wifi.skill) == ("technical", "network")


def test_below_the_threshold_a_ticket_is_uncategorised_naming_the_best_guess(
    tree: CategoryTree,
) -> None:
    result = classify("something odd", "en", tree, {"network/vpn": 0.4, "network/wifi": 0.35})
    assert result.label == "uncategorised"
    assert (result.category, result.subcategory, result.item) == (None, None, None)
    assert (result.team, result.skill, result.difficulty) == ("service-desk", None, "easy")
    assert (result.impact, result.urgency) == ("low", "medium")
    assert result.confidence == pytest.approx(0.4)
    assert result.reason == (
        "uncategorised: best guess network/vpn at 0.40 (model 0.40 and no keywords) "
        "is below the threshold 0.45"
    )


def test_nothing_at_all_is_uncategorised_and_unknown_model_labels_are_ignored(
    tree: CategoryTree,
) -> None:
    result = classify("hello", None, tree, {"billing/refund": 0.99})
    assert result.label == "uncategorised"
    assert result.confidence == 0.0
    assert "no model score or keyword" in result.reason
