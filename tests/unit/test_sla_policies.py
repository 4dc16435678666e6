"""SLA policies: which targets, prompts and calendar apply to a ticket, and what is refused."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from services.sla.config import config_version, load_config
from services.sla.domain.policies import Prompt, SlaPolicies
from services.sla.domain.ticket import Rules
from shared.business_calendar import load_calendars
from shared.config import ConfigError, load_yaml

ROOT = Path(__file__).resolve().parents[2]
CALENDARS = load_calendars(ROOT / "config")
H, M = timedelta(hours=1), timedelta(minutes=1)


def _doc(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "default": {
            "targets": {"first_response": "PT3H", "next_reply": "PT4H", "resolution": "PT8H"},
            "prompts": [{"action": "call_customer", "metric": "resolution", "after": "PT4H"}],
        },
        "policies": [
            {
                "name": "urgent",
                "match": {"priority": "P1"},
                "calendar": "24x7",
                "targets": {"first_response": "PT30M", "resolution": "PT4H"},
                "prompts": [{"action": "call_customer", "after": "PT1H"}],
            },
            {
                "name": "enterprise",
                "match": {"plan": "enterprise"},
                "targets": {"first_response": "PT1H", "next_reply": "PT2H", "resolution": "PT6H"},
            },
            # Listed before the less specific policies it overrides: the order in the file
            # does not decide between different specificities.
            {
                "name": "enterprise-urgent",
                "match": {"plan": "enterprise", "priority": "P1"},
                "targets": {"first_response": "PT15M"},
            },
            {
                "name": "billing",
                "match": {"category": "billing"},
                "targets": {"resolution": "PT16H"},
            },
            {"name": "quiet", "match": {"category": "feedback"}, "prompts": []},
        ],
    }
    doc.update(overrides)
    return doc


POLICIES = SlaPolicies.model_validate(_doc())


def test_most_specific_match_wins_target_by_target() -> None:
    # P1 + enterprise: first response from the two-condition policy; resolution from P1
    # (4h) and enterprise (6h), both one condition, the later in the file (enterprise)
    # winning; next reply from enterprise; nothing from the default survives.
    terms = POLICIES.terms(priority="P1", plan="enterprise", category="network")
    assert terms.policy == "enterprise-urgent"
    assert terms.targets == {"first_response": 15 * M, "next_reply": 2 * H, "resolution": 6 * H}


def test_plan_beats_default_and_default_fills_the_rest() -> None:
    enterprise = POLICIES.terms(priority="P3", plan="enterprise", category="network")
    assert enterprise.policy == "enterprise"
    assert enterprise.targets == {"first_response": H, "next_reply": 2 * H, "resolution": 6 * H}
    standard = POLICIES.terms(priority="P3", plan="standard", category="network")
    assert standard.policy == "default"
    assert standard.targets == {"first_response": 3 * H, "next_reply": 4 * H, "resolution": 8 * H}


def test_category_policy_setting_only_resolution_keeps_p1_first_response() -> None:
    terms = POLICIES.terms(priority="P1", plan="standard", category="billing")
    assert terms.policy == "billing"
    assert terms.targets["first_response"] == 30 * M  # from urgent
    assert terms.targets["resolution"] == 16 * H  # from billing
    assert terms.targets["next_reply"] == 4 * H  # from the default


def test_prompts_and_calendar_overlay_from_the_policies_that_set_them() -> None:
    default = POLICIES.terms(priority="P3", plan="standard", category="network")
    assert default.calendar is None  # the team's calendar
    assert default.prompts == (Prompt(action="call_customer", metric="resolution", after=4 * H),)
    # enterprise-urgent names neither: urgent's calendar and prompts carry through.
    urgent = POLICIES.terms(priority="P1", plan="enterprise", category="network")
    assert urgent.calendar == "24x7"
    assert urgent.prompts == (Prompt(action="call_customer", after=H),)
    # An empty list is a choice: no prompts at all.
    assert POLICIES.terms(priority="P3", plan="standard", category="feedback").prompts == ()


def test_no_priority_yet_matches_only_policies_without_one() -> None:
    terms = POLICIES.terms(priority=None, plan="standard", category="billing")
    assert (terms.policy, terms.targets["first_response"]) == ("billing", 3 * H)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"warning_levels": [50, 90, 75]}, "rise strictly"),
        ({"warning_levels": [50, 50, 90]}, "rise strictly"),
        ({"warning_levels": [0, 75, 90]}, "rise strictly"),
        ({"colours": {"amber": 60, "red": 90}}, "among the warning_levels"),
        ({"colours": {"amber": 90, "red": 75}}, "lower level than colours.red"),
        ({"pause_on": ["pending", "resolved"]}, "pause_on may hold only"),
        ({"default": {"targets": {"first_response": "PT3H"}}}, "first_response and resolution"),
        ({"default": {"targets": {"resolution": "PT3H"}}}, "first_response and resolution"),
        (
            {"policies": [{"name": "p", "match": {"priority": "P1"}}] * 2},
            "policy names must be unique",
        ),
        ({"default": {"targets": {"first_response": "PT0S", "resolution": "PT8H"}}}, "greater"),
        ({"on_reopen": "forget"}, "on_reopen"),
    ],
)
def test_invalid_policies_are_refused_with_the_reason(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        SlaPolicies.model_validate(_doc(**overrides))


def test_a_bad_file_fails_to_load_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sla.yaml"
    path.write_text("warning_levels: [90, 50]\ndefault: {targets: {first_response: PT1H}}\n")
    with pytest.raises(ConfigError, match=r"sla\.yaml"):
        load_yaml(path, SlaPolicies)


def test_rules_refuse_a_policy_naming_an_unknown_calendar() -> None:
    doc = _doc(policies=[{"name": "moon", "match": {"priority": "P1"}, "calendar": "moonbase"}])
    with pytest.raises(ValueError, match="moonbase"):
        Rules(SlaPolicies.model_validate(doc), CALENDARS, "v1")


def test_shipped_config_loads_and_its_calendars_exist() -> None:
    policies = load_yaml(ROOT / "config" / "sla.yaml", SlaPolicies)
    Rules(policies, CALENDARS, "v1")  # every calendar a policy names is defined
    assert (policies.warning_levels, policies.on_reopen) == ((50, 75, 90), "restart")
    urgent = policies.terms(priority="P1", plan="standard", category="billing")
    assert (urgent.calendar, urgent.targets["first_response"]) == ("24x7", 30 * M)
    assert urgent.targets["resolution"] == 16 * H


def test_config_version_changes_with_the_text() -> None:
    assert config_version("a", "b") == config_version("a", "b")
    assert config_version("a", "b") != config_version("a", "c")
    assert config_version("ab", "") != config_version("a", "b")


def test_loading_refuses_a_policy_naming_an_unknown_calendar_naming_file_and_field(
    tmp_path: Path,
) -> None:
    shutil.copy(ROOT / "config" / "calendars.yaml", tmp_path / "calendars.yaml")
    text = (ROOT / "config" / "sla.yaml").read_text(encoding="utf-8")
    (tmp_path / "sla.yaml").write_text(text.replace("calendar: 24x7", "calendar: moonbase"))
    with pytest.raises(ConfigError) as refused:
        load_config(tmp_path)
    assert refused.value.file == str(tmp_path / "sla.yaml")
    assert refused.value.field == "policies.0.calendar"
    assert "moonbase" in refused.value.problem and "24x7" in refused.value.problem


def test_the_shipped_config_loads_with_a_version_that_follows_its_text(tmp_path: Path) -> None:
    shipped = load_config(ROOT / "config")
    for name in ("sla.yaml", "calendars.yaml"):
        shutil.copy(ROOT / "config" / name, tmp_path / name)
    assert load_config(tmp_path).version == shipped.version
    with (tmp_path / "sla.yaml").open("a", encoding="utf-8") as sla:
        sla.write("\n# an operator's note\n")
    assert load_config(tmp_path).version != shipped.version
