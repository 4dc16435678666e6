"""Escalation ladders: config validation, step selection, recipients, working hours, digests."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from services.notifier.config import check_against, load_notifier_config
from services.notifier.domain.ladders import (
    NotifierConfig,
    Step,
    digest_slot,
    first_step,
    is_digestible,
    next_step,
    parse_duration,
)
from services.notifier.domain.notices import Notice, NoticeKind, Recipient, Role
from services.notifier.domain.recipients import recipients, send_after
from shared.business_calendar import load_calendars
from shared.clock import FakeClock
from shared.config import ConfigError
from shared.directory import load_directory

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
CONFIG = load_notifier_config(CONFIG_DIR)
DIRECTORY = load_directory(CONFIG_DIR)
CALENDARS = load_calendars(CONFIG_DIR)
RAW = yaml.safe_load((CONFIG_DIR / "notifier.yaml").read_text(encoding="utf-8"))
ATHENS, TEHRAN, MOSCOW = (ZoneInfo(z) for z in ("Europe/Athens", "Asia/Tehran", "Europe/Moscow"))
NOW = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)


def _config(**changes: Any) -> NotifierConfig:
    """The real config with top-level sections replaced."""
    return NotifierConfig.model_validate(copy.deepcopy(RAW) | changes)


def _notice(kind: NoticeKind, metric: str | None = None, level: int | None = None) -> Notice:
    return Notice.model_validate(
        {
            "kind": kind,
            "event_id": "00000000-0000-0000-0000-000000000001",
            "event_type": "sla.warning",
            "occurred_at": NOW,
            "ticket_id": "t-1",
            "reference": "HD-000001",
            "metric": metric,
            "level_percent": level,
        }
    )


def _who(found: list[Recipient]) -> list[tuple[str, str]]:
    return [(r.person_id, r.role) for r in found]


def _recipients(roles: list[Role], team: str | None, assignee: str | None = None, **kw: Any):
    return _who(
        recipients(
            roles,
            team=team,
            assignee_id=assignee,
            directory=DIRECTORY,
            config=kw.get("config", CONFIG),
        )
    )


def _send_after(person_id: str, local: datetime, *, urgent: bool = False, **kw: Any) -> datetime:
    recipient = Recipient(person_id=person_id, name="x", email="x@helpdesk.example")
    clock = FakeClock(local.astimezone(UTC))
    return send_after(
        recipient,
        urgent=urgent,
        now=clock.now(),
        directory=DIRECTORY,
        calendars=CALENDARS,
        config=kw.get("config", CONFIG),
    )


# --- the real config ---------------------------------------------------------------------


def test_real_config_matches_the_directory_calendars_and_sla_warning_levels() -> None:
    levels = yaml.safe_load((CONFIG_DIR / "sla.yaml").read_text(encoding="utf-8"))
    check_against(CONFIG, DIRECTORY, calendars=CALENDARS, warning_levels=levels["warning_levels"])
    assert CONFIG.digest.window == timedelta(minutes=5)
    assert CONFIG.ladder("first_response").breach.acknowledge_within == timedelta(minutes=10)


def test_check_against_names_every_unknown_team_person_calendar_and_level() -> None:
    config = _config(
        on_call={"billing": RAW["on_call"]["technical"], "*": RAW["on_call"]["*"]},
        working_hours={"default_calendar": "mars", "people": {"ag-ghost": "iran"}},
    )
    with pytest.raises(ConfigError) as caught:
        check_against(config, DIRECTORY, calendars=CALENDARS, warning_levels=[50, 90])
    message = str(caught.value)
    for name in ("'billing'", "'ag-ghost'", "'mars'", "[75]"):
        assert name in message


def test_check_against_wants_an_on_call_person_for_every_team_when_the_role_is_used() -> None:
    config = _config(on_call={"technical": RAW["on_call"]["technical"]})
    with pytest.raises(ConfigError, match=r"\['accounts', 'service-desk'\] and no '\*'"):
        check_against(config, DIRECTORY)


# --- warnings, breaches, prompts, router events -------------------------------------------


@pytest.mark.parametrize(
    ("metric", "level", "notify", "channels", "urgent"),
    [
        ("first_response", 50, ("assignee",), ("push",), False),
        ("first_response", 75, ("assignee",), ("push", "email"), True),
        ("first_response", 90, ("assignee", "lead"), ("push", "email"), True),
        ("next_reply", 50, ("assignee",), ("push",), False),
        ("next_reply", 75, ("assignee",), ("push", "email"), True),
        ("next_reply", 90, ("assignee", "lead"), ("push", "email"), True),
        ("resolution", 50, ("assignee",), ("push",), False),
        ("resolution", 75, ("assignee",), ("push", "email"), False),
        ("resolution", 90, ("assignee", "lead"), ("push", "email", "webhook"), True),
    ],
)
def test_a_warning_is_told_by_its_metric_step_for_that_level(
    metric: str, level: int, notify: tuple[str, ...], channels: tuple[str, ...], urgent: bool
) -> None:
    step = first_step(_notice("sla_warning", metric, level), CONFIG)
    assert step == Step(notify=notify, channels=channels, urgent=urgent, level=f"warning:{level}")
    assert (step.rung, step.rungs, step.acknowledge_within) == (0, 1, None)


def test_a_warning_between_steps_takes_the_highest_reached_and_below_all_nobody() -> None:
    between = first_step(_notice("sla_warning", "resolution", 80), CONFIG)
    assert between is not None and between.level == "warning:75"
    assert first_step(_notice("sla_warning", "resolution", 40), CONFIG) is None


def test_steps_are_sorted_whatever_order_the_config_lists_them() -> None:
    ladders = copy.deepcopy(RAW["ladders"])
    ladders["resolution"]["warnings"].reverse()
    step = first_step(_notice("sla_warning", "resolution", 90), _config(ladders=ladders))
    assert step is not None and step.level == "warning:90"


def test_a_first_response_breach_climbs_to_on_call_then_stops() -> None:
    step = first_step(_notice("sla_breach", "first_response", 100), CONFIG)
    walked = []
    while step is not None:
        walked.append((step.rung, step.notify, step.channels, step.acknowledge_within))
        assert step.rungs == 4 and step.urgent and step.level == "breach"
        step = next_step(CONFIG, "first_response", step.rung)
    ten = timedelta(minutes=10)
    assert walked == [
        (0, ("assignee",), ("push", "email"), ten),
        (1, ("lead",), ("push", "email", "webhook"), ten),
        (2, ("manager",), ("email", "webhook"), ten),
        (3, ("on_call",), ("email", "webhook"), ten),
    ]


def test_a_resolution_breach_starts_at_the_manager_and_a_rung_may_wait_longer() -> None:
    first = first_step(_notice("sla_breach", "resolution", 100), CONFIG)
    assert first is not None and first.notify == ("manager",) and first.rungs == 2
    assert first.acknowledge_within == timedelta(minutes=30)
    top = next_step(CONFIG, "resolution", 0)
    assert (
        top is not None
        and top.notify == ("on_call",)
        and top.acknowledge_within == (timedelta(hours=1))
    )
    assert next_step(CONFIG, "resolution", 1) is None
    assert next_step(CONFIG, "next_reply", 2) is None


def test_next_step_refuses_a_negative_rung_and_an_unknown_metric() -> None:
    with pytest.raises(ValueError, match="negative"):
        next_step(CONFIG, "resolution", -1)
    with pytest.raises(ValueError, match="no ladder for metric 'csat'"):
        next_step(CONFIG, "csat", 0)


def test_prompts_and_router_events_follow_their_rules() -> None:
    prompt = first_step(_notice("sla_prompt", "resolution", 50), CONFIG)
    assert prompt == Step(
        notify=("assignee",), channels=("push", "email"), urgent=True, level="prompt"
    )
    assigned = first_step(_notice("assigned"), CONFIG)
    assert assigned is not None and not assigned.urgent and assigned.level == "assigned"
    exceeded = first_step(_notice("transfers_exceeded"), CONFIG)
    assert exceeded is not None and exceeded.notify == ("manager",) and not exceeded.urgent
    assert first_step(_notice("escalated"), _config(events={})) is None


# --- recipients ---------------------------------------------------------------------------


def test_the_assignee_is_the_agent_else_the_lead_else_the_manager() -> None:
    assert _recipients(["assignee"], "technical", "ag-maria") == [("ag-maria", "assignee")]
    assert _recipients(["assignee"], "technical") == [("lead-technical", "lead")]
    assert _recipients(["assignee"], "technical", "ag-ghost") == [("lead-technical", "lead")]
    assert _recipients(["assignee"], "accounts") == [("mgr-accounts", "manager")]


def test_lead_manager_and_team_roles() -> None:
    assert _recipients(["lead"], "technical") == [("lead-technical", "lead")]
    assert _recipients(["lead"], "accounts") == [("mgr-accounts", "manager")]
    assert _recipients(["manager"], "technical") == [("mgr-technical", "manager")]
    assert _recipients(["team"], "service-desk") == [("ag-dina", "team"), ("ag-petros", "team")]


def test_without_a_team_name_the_assignees_team_is_used() -> None:
    assert _recipients(["manager"], None, "ag-john") == [("mgr-accounts", "manager")]


def test_on_call_is_the_teams_person_else_the_default() -> None:
    assert _recipients(["on_call"], "technical") == [("ag-leon", "on_call")]
    assert _recipients(["on_call"], "service-desk") == [("duty-desk", "on_call")]
    assert _recipients(["on_call"], None) == [("duty-desk", "on_call")]
    no_default = _config(on_call={"technical": RAW["on_call"]["technical"]})
    assert _recipients(["on_call"], "accounts", config=no_default) == []


def test_a_person_reached_twice_is_told_once_with_the_first_role() -> None:
    assert _recipients(["assignee", "team"], "technical", "ag-maria") == [
        ("ag-maria", "assignee"),
        ("ag-nika", "team"),
        ("ag-sergei", "team"),
        ("ag-leon", "team"),
    ]
    assert _recipients(["lead", "manager"], "accounts") == [("mgr-accounts", "manager")]
    assert _recipients(["on_call", "team"], "technical")[:2] == [
        ("ag-leon", "on_call"),
        ("ag-maria", "team"),
    ]


def test_an_unknown_team_has_nobody_but_the_default_on_call() -> None:
    every: list[Role] = ["assignee", "lead", "manager", "team", "on_call"]
    assert _recipients(every, "nowhere") == [("duty-desk", "on_call")]


# --- working hours ------------------------------------------------------------------------


def test_saturday_night_in_athens_waits_for_monday_morning() -> None:
    saturday_night = datetime(2026, 1, 10, 23, 0, tzinfo=ATHENS)
    assert _send_after("ag-maria", saturday_night) == datetime(2026, 1, 12, 9, 0, tzinfo=ATHENS)


def test_inside_working_hours_and_urgent_messages_go_now() -> None:
    monday = datetime(2026, 1, 12, 10, 30, tzinfo=ATHENS)
    assert _send_after("ag-maria", monday) == monday
    saturday_night = datetime(2026, 1, 10, 23, 0, tzinfo=ATHENS)
    assert _send_after("ag-maria", saturday_night, urgent=True) == saturday_night


def test_a_greek_holiday_is_skipped() -> None:
    # Epiphany, Tuesday 6 January, is a public holiday in Greece.
    monday_evening = datetime(2026, 1, 5, 18, 0, tzinfo=ATHENS)
    assert _send_after("lead-technical", monday_evening) == datetime(
        2026, 1, 7, 9, 0, tzinfo=ATHENS
    )


def test_the_iran_week_runs_saturday_to_wednesday_with_a_short_thursday() -> None:
    saturday = datetime(2026, 1, 10, 10, 0, tzinfo=TEHRAN)
    assert _send_after("ag-darius", saturday) == saturday  # open while Athens is closed
    assert _send_after("ag-maria", saturday) == datetime(2026, 1, 12, 9, 0, tzinfo=ATHENS)
    friday = datetime(2026, 1, 9, 12, 0, tzinfo=TEHRAN)
    assert _send_after("mgr-accounts", friday) == datetime(2026, 1, 10, 8, 0, tzinfo=TEHRAN)
    thursday_afternoon = datetime(2026, 1, 8, 14, 0, tzinfo=TEHRAN)
    assert _send_after("ag-john", thursday_afternoon) == datetime(2026, 1, 10, 8, tzinfo=TEHRAN)
    # Saturday 17 January is an Iranian public holiday: the week opens on Sunday.
    friday_before_holiday = datetime(2026, 1, 16, 9, 0, tzinfo=TEHRAN)
    assert _send_after("ag-olga", friday_before_holiday) == datetime(
        2026, 1, 18, 8, 0, tzinfo=TEHRAN
    )


def test_an_agents_own_shift_then_the_teams_shift_then_the_default() -> None:
    saturday_night = datetime(2026, 1, 10, 23, 0, tzinfo=ATHENS)
    assert _send_after("ag-dina", saturday_night) == saturday_night  # team shift 24x7
    assert _send_after("mgr-service-desk", saturday_night) == datetime(
        2026, 1, 12, 9, 0, tzinfo=MOSCOW
    )
    assert _send_after("duty-desk", saturday_night) == datetime(2026, 1, 12, 9, 0, tzinfo=ATHENS)
    own = _config(working_hours={"default_calendar": None, "people": {"ag-dina": "greece"}})
    assert _send_after("ag-dina", saturday_night, config=own) == datetime(
        2026, 1, 12, 9, 0, tzinfo=ATHENS
    )
    assert _send_after("ag-maria", saturday_night, config=own) == saturday_night


# --- digests ------------------------------------------------------------------------------


def test_only_configured_kinds_on_configured_channels_are_digested() -> None:
    warning = _notice("sla_warning", "resolution", 75)
    assert is_digestible(warning, "email", CONFIG)
    assert is_digestible(warning, "webhook", CONFIG)
    assert not is_digestible(warning, "push", CONFIG)
    assert not is_digestible(_notice("sla_breach", "resolution", 100), "email", CONFIG)
    no_digest = _config(digest={"window": 0})
    assert not is_digestible(warning, "email", no_digest)


def test_digest_slots_fold_messages_inside_one_window() -> None:
    window = timedelta(minutes=5)
    assert digest_slot(None, now=NOW, window=window) == NOW
    assert digest_slot(NOW - timedelta(minutes=9), now=NOW, window=window) == NOW
    assert digest_slot(NOW - window, now=NOW, window=window) == NOW
    assert digest_slot(NOW - timedelta(minutes=2), now=NOW, window=window) == NOW + 3 * (
        timedelta(minutes=1)
    )
    pending = NOW + timedelta(minutes=3)
    assert digest_slot(pending, now=NOW, window=window) == pending


# --- durations and refused configs --------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "seconds"),
    [("90s", 90), ("10m", 600), ("2h", 7200), ("1d", 86_400), ("1h30m", 5400), (45, 45),
     (" 120 ", 120), (2.5, 2.5), ("PT15M", 900), ("0s", 0)],
)  # fmt: skip
def test_durations_are_read_in_the_short_forms(written: object, seconds: float) -> None:
    assert parse_duration(written) == timedelta(seconds=seconds)


@pytest.mark.parametrize("written", ["10x", "", "-5m", "m10", "1.2.3s", -5, True, None, "P-1D"])
def test_bad_durations_are_explained(written: object) -> None:
    with pytest.raises(ValueError, match=r"is not a duration: write e\.g\. '90s', '10m'"):
        parse_duration(written)


def _load(tmp_path: Path, raw: dict[str, Any]) -> NotifierConfig:
    (tmp_path / "notifier.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    return load_notifier_config(tmp_path)


def _refused(tmp_path: Path, raw: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, raw)
    return str(caught.value)


def test_an_unknown_role_or_channel_is_refused_by_name(tmp_path: Path) -> None:
    raw = copy.deepcopy(RAW)
    raw["ladders"]["first_response"]["breach"]["rungs"][1]["notify"] = ["boss"]
    message = _refused(tmp_path, raw)
    assert "ladders.first_response.breach.rungs.1.notify.0" in message
    assert "'boss'" in message and "'on_call'" in message
    raw = copy.deepcopy(RAW)
    raw["events"]["assigned"]["channels"] = ["push", "sms"]
    message = _refused(tmp_path, raw)
    assert "events.assigned.channels.1" in message and "'sms'" in message


def test_other_mistakes_are_refused_with_a_reason(tmp_path: Path) -> None:
    raw = copy.deepcopy(RAW)
    raw["ladders"]["resolution"]["breach"]["acknowledge_within"] = "half an hour"
    assert "'half an hour' is not a duration" in _refused(tmp_path, raw)
    raw = copy.deepcopy(RAW)
    raw["ladders"]["resolution"]["breach"]["rungs"] = []
    assert "ladders.resolution.breach.rungs" in _refused(tmp_path, raw)
    raw = copy.deepcopy(RAW)
    raw["ladders"]["next_reply"]["warnings"][1]["at_percent"] = 50
    assert "warning levels listed twice: ['50']" in _refused(tmp_path, raw)
    raw = copy.deepcopy(RAW)
    raw["prompts"]["channels"] = ["email", "email"]
    assert "channels listed twice: ['email']" in _refused(tmp_path, raw)
    raw = copy.deepcopy(RAW)
    del raw["ladders"]["next_reply"]
    assert "ladders.next_reply" in _refused(tmp_path, raw)
    raw = copy.deepcopy(RAW)
    raw["digest"]["windows"] = "5m"
    assert "digest.windows" in _refused(tmp_path, raw)
    assert _load(tmp_path, RAW) == CONFIG
