"""The router's priority rules: the impact x urgency matrix, urgency cues and head counts in
four languages, plan and first-time raises, and shouting that never raises anything."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from services.router.config import load_triage
from services.router.domain.priority import (
    PriorityDecision,
    PriorityRules,
    decide_priority,
    raise_priority,
)
from services.router.domain.triage import TriageRules
from services.router.domain.vocabulary import LEVELS, Level, Priority
from shared.config import ConfigError

CONFIG = Path(__file__).resolve().parents[2] / "config"
MATRIX = {
    "high": {"high": "P1", "medium": "P2", "low": "P3"},
    "medium": {"high": "P2", "medium": "P3", "low": "P4"},
    "low": {"high": "P3", "medium": "P4", "low": "P4"},
}
QUIET = "The printer on the second floor shows a paper jam message."


@pytest.fixture(scope="module")
def rules() -> PriorityRules:
    return load_triage(CONFIG).priority


def _decide(
    rules: PriorityRules,
    text: str,
    language: str | None = None,
    *,
    impact: Level = "low",
    urgency: Level = "medium",
    plan: str = "standard",
    first_time: bool = False,
) -> PriorityDecision:
    return decide_priority(
        text,
        language,
        base_impact=impact,
        base_urgency=urgency,
        plan=plan,
        first_time=first_time,
        rules=rules,
    )


def _config(**changes: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "matrix": {impact: dict(row) for impact, row in MATRIX.items()},
        "urgency_cues": {"high": {"en": ["cannot work"]}, "low": {"en": ["no rush"]}},
        "affected_users": {
            "patterns": {"en": [r"(\d+) users"]},
            "everyone": {"en": ["whole office"]},
            "thresholds": {"high": 20, "medium": 2},
        },
        "plan_raise": {"vip": 1},
    }
    config.update(changes)
    return config


def test_shipped_config_loads_with_the_itil_matrix() -> None:
    triage = load_triage(CONFIG)
    assert isinstance(triage, TriageRules)
    assert triage.priority.matrix == MATRIX
    assert triage.priority.plan_raise == {"premium": 1, "vip": 1, "enterprise": 1}
    assert triage.priority.first_time_customer_raise == 1
    assert set(triage.priority.urgency_cues.high) == {"en", "fa", "ru", "el"}
    assert set(triage.priority.urgency_cues.low) == {"en", "fa", "ru", "el"}
    assert set(triage.priority.affected_users.patterns) == {"en", "fa", "ru", "el"}
    assert set(triage.tiers.technical_cues) == {"en", "fa", "ru", "el"}


@pytest.mark.parametrize("impact", LEVELS)
@pytest.mark.parametrize("urgency", LEVELS)
def test_without_cues_the_matrix_decides(
    rules: PriorityRules, impact: Level, urgency: Level
) -> None:
    decision = _decide(rules, QUIET, "en", impact=impact, urgency=urgency)
    assert (decision.impact, decision.urgency) == (impact, urgency)
    assert decision.priority == MATRIX[impact][urgency]
    assert decision.affected_users is None
    assert decision.reason == (
        f"urgency {urgency} from the category; impact {impact} from the category"
    )


@pytest.mark.parametrize(
    ("text", "language", "cue"),
    [
        ("Production is down since 9am, the app returns errors", "en", "production is down"),
        ("We cannot work: the accounting system rejects every login", "en", "cannot work"),
        ("The report is due today and the share is gone", "en", "due today"),
        ("Всё не работает с самого утра", "ru", "все не работает"),
        ("Сервер упал, бухгалтерия сидит", "ru", "сервер упал"),
        ("Δεν μπορούμε να δουλέψουμε από το πρωί", "el", "δεν μπορούμε να δουλέψουμε"),
        ("Η ΠΡΟΘΕΣΜΙΑ ΛΗΓΕΙ ΣΗΜΕΡΑ και το σύστημα κολλάει", "el", "η προθεσμία λήγει σήμερα"),
        ("از صبح کار ما متوقف شده است", "fa", "کار ما متوقف شده"),
        ("نمی‌توانیم کار کنیم، سیستم حسابداری باز نمی‌شود", "fa", "نمی‌توانیم کار کنیم"),
    ],
)
def test_high_urgency_cues_raise_urgency_in_each_language(
    rules: PriorityRules, text: str, language: str, cue: str
) -> None:
    decision = _decide(rules, text, language, impact="low", urgency="medium")
    assert decision.urgency == "high"
    assert decision.priority == "P3"
    assert f"urgency high: '{cue}'" in decision.reason


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("No rush, look at it when you have time.", "en"),
        ("Не срочно, посмотрите, когда будет время.", "ru"),
        ("Όποτε μπορείτε, δεν βιαζόμαστε.", "el"),
        ("عجله‌ای نیست، هر وقت فرصت کردید بررسی کنید.", "fa"),
    ],
)
def test_low_urgency_cues_lower_urgency_in_each_language(
    rules: PriorityRules, text: str, language: str
) -> None:
    decision = _decide(rules, text, language, impact="high", urgency="medium")
    assert decision.urgency == "low"
    assert decision.priority == "P3"
    assert decision.reason.startswith("urgency low: '")


def test_a_low_cue_does_not_lower_when_a_high_cue_is_present(rules: PriorityRules) -> None:
    decision = _decide(rules, "No rush for me, but production is down for the shop.", "en")
    assert decision.urgency == "high"
    assert "'no rush'" not in decision.reason


@pytest.mark.parametrize("spelling", ["عجله‌ای نیست", "عجله ای نیست", "عجلهای نیست"])
def test_persian_half_space_may_be_a_space_or_nothing(rules: PriorityRules, spelling: str) -> None:
    assert _decide(rules, f"{spelling}، ممنون", "fa").urgency == "low"


def test_persian_with_arabic_letter_forms_matches(rules: PriorityRules) -> None:
    # Arabic kaf (ك) and yeh (ي) fold to the Persian forms the config is written in.
    decision = _decide(rules, "كار ما متوقف شده، سرور پاسخ نمي‌دهد", "fa")
    assert decision.urgency == "high"


def test_english_cues_count_in_a_ticket_in_another_language(rules: PriorityRules) -> None:
    assert _decide(rules, "У нас production down с утра", "ru").urgency == "high"


def test_unknown_language_is_searched_with_every_language(rules: PriorityRules) -> None:
    assert _decide(rules, "Сервер упал", None).urgency == "high"
    assert _decide(rules, "Сервер упал", "de").urgency == "high"


@pytest.mark.parametrize(
    ("text", "language", "count", "impact"),
    [
        ("25 users cannot print", "en", 25, "high"),
        ("25 of our remote users lost the VPN", "en", 25, "high"),
        ("3 people see the error", "en", 3, "medium"),
        ("Все 40 сотрудников без почты", "ru", 40, "high"),
        ("У 5 человек не открывается CRM", "ru", 5, "medium"),
        ("20 χρήστες δεν έχουν email", "el", 20, "high"),
        ("Και οι 4 υπάλληλοι δεν έχουν email", "el", 4, "medium"),
        ("۳۰ کاربر ایمیل ندارند", "fa", 30, "high"),
        ("٣ نفر نمی‌توانند وارد شوند", "fa", 3, "medium"),
        ("1 user cannot log in", "en", 1, "low"),
    ],
)
def test_affected_user_counts_set_impact(
    rules: PriorityRules, text: str, language: str, count: int, impact: Level
) -> None:
    decision = _decide(rules, text, language, impact="low", urgency="low")
    assert decision.affected_users == count
    assert decision.impact == impact


def test_the_largest_count_wins(rules: PriorityRules) -> None:
    decision = _decide(rules, "First 3 users, now 25 users are affected", "en")
    assert decision.affected_users == 25
    assert decision.impact == "high"


def test_a_number_too_long_to_be_a_head_count_is_ignored(rules: PriorityRules) -> None:
    decision = _decide(rules, "1" * 5000 + " users", "en")
    assert decision.affected_users is None
    assert decision.impact == "low"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Everyone in the office lost email this morning", "en"),
        ("Весь офис без интернета", "ru"),
        ("Όλοι στο γραφείο είμαστε χωρίς email", "el"),
        ("همه همکاران ایمیل ندارند", "fa"),
        ("همه‌ی کاربران قطع هستند", "fa"),
    ],
)
def test_everyone_phrases_make_impact_high(rules: PriorityRules, text: str, language: str) -> None:
    decision = _decide(rules, text, language, impact="low")
    assert decision.impact == "high"
    assert decision.affected_users is None
    assert "impact high: '" in decision.reason


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Hi everyone, my mouse is broken", "en"),
        ("سلام به همه، ماوس من خراب است", "fa"),
        ("Γεια σε όλους, το ποντίκι μου χάλασε", "el"),
        ("Всем привет, сломалась мышь", "ru"),
    ],
)
def test_greetings_to_everyone_do_not_raise_impact(
    rules: PriorityRules, text: str, language: str
) -> None:
    assert _decide(rules, text, language, impact="low").impact == "low"


def test_impact_never_goes_below_the_category(rules: PriorityRules) -> None:
    decision = _decide(rules, "Only 1 user sees it so far", "en", impact="high", urgency="medium")
    assert decision.impact == "high"
    assert decision.priority == "P2"
    assert "impact high from the category, not lowered by 1 user affected" in decision.reason


def test_reason_reads_as_words(rules: PriorityRules) -> None:
    decision = _decide(
        rules, "We cannot work, 3 users affected", "en", impact="low", urgency="low", plan="vip"
    )
    assert decision.priority == "P1"
    assert decision.reason == (
        "urgency high: 'cannot work'; impact medium: 3 users affected; raised one step for plan vip"
    )


def test_plan_raises_priority_and_plan_names_ignore_case(rules: PriorityRules) -> None:
    assert _decide(rules, QUIET, plan="standard").priority == "P4"
    decision = _decide(rules, QUIET, plan="VIP")
    assert decision.priority == "P3"
    assert "raised one step for plan VIP" in decision.reason


def test_first_time_customers_are_raised_and_it_adds_to_the_plan(rules: PriorityRules) -> None:
    first = _decide(rules, QUIET, first_time=True)
    assert first.priority == "P3"
    assert "raised one step for a first-time customer" in first.reason
    assert _decide(rules, QUIET, plan="enterprise", first_time=True).priority == "P2"


def test_first_time_raise_zero_disables_it() -> None:
    rules = PriorityRules.model_validate(_config(first_time_customer_raise=0))
    decision = _decide(rules, QUIET, first_time=True)
    assert decision.priority == "P4"
    assert "first-time" not in decision.reason


def test_raises_are_capped_at_p1(rules: PriorityRules) -> None:
    decision = _decide(rules, QUIET, impact="high", urgency="medium", plan="vip", first_time=True)
    assert decision.priority == "P1"
    assert decision.reason.endswith("capped at P1")


@pytest.mark.parametrize(
    ("priority", "steps", "expected"),
    [("P4", 0, "P4"), ("P4", 1, "P3"), ("P4", 3, "P1"), ("P3", 5, "P1"), ("P1", 1, "P1")],
)
def test_raise_priority_never_goes_above_p1(
    priority: Priority, steps: int, expected: Priority
) -> None:
    assert raise_priority(priority, steps) == expected


def test_raise_priority_rejects_negative_steps() -> None:
    with pytest.raises(ValueError, match="negative"):
        raise_priority("P2", -1)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("URGENT!!! please help", "en"),
        ("ASAP!!! VERY IMPORTANT, HIGH PRIORITY, NEED IT NOW", "en"),
        ("СРОЧНО!!! пожалуйста, помогите", "ru"),
        ("ΕΠΕΙΓΟΝ!!! Παρακαλώ βοηθήστε", "el"),
        ("فوری!!! لطفاً کمک کنید", "fa"),
    ],
)
def test_shouting_never_raises_urgency(rules: PriorityRules, text: str, language: str) -> None:
    for code in (language, None):
        decision = _decide(rules, text, code, impact="medium", urgency="medium")
        assert decision.urgency == "medium"
        assert decision.priority == "P3"


@pytest.mark.parametrize(
    ("language", "cue"),
    [
        ("en", "URGENT"),
        ("en", "very urgent!!!"),
        ("ru", "срочно"),
        ("el", "ΕΠΕΙΓΟΝ"),
        ("fa", "فوری"),
    ],
)
@pytest.mark.parametrize("kind", ["high", "low"])
def test_config_rejects_a_cue_that_is_only_loudness(language: str, cue: str, kind: str) -> None:
    cues = {"high": {"en": ["cannot work"]}, "low": {}}
    cues[kind] = {language: ["real words here", cue]}
    with pytest.raises(ValidationError, match="only loudness"):
        PriorityRules.model_validate(_config(urgency_cues=cues))


def test_config_accepts_a_cue_that_names_what_is_stopped() -> None:
    cues = {"high": {"en": ["urgent: production down"]}}
    rules = PriorityRules.model_validate(_config(urgency_cues=cues))
    assert _decide(rules, "Urgent: production down").urgency == "high"


def test_config_rejects_an_incomplete_matrix() -> None:
    matrix = {impact: dict(row) for impact, row in MATRIX.items()}
    del matrix["low"]["low"]
    del matrix["high"]["medium"]
    with pytest.raises(ValidationError) as error:
        PriorityRules.model_validate(_config(matrix=matrix))
    assert "impact high x urgency medium, impact low x urgency low" in str(error.value)


@pytest.mark.parametrize(
    ("affected", "message"),
    [
        ({"patterns": {"en": [r"\d+ users"]}}, "needs one group"),
        ({"patterns": {"en": [r"(\d+ users"]}}, "not a valid regex"),
        ({"patterns": {"el": [r"(\d+) χρήστες"]}}, "normalised text never holds"),
        ({"patterns": {"fa": [r"(\d+) كاربر"]}}, "normalised text never holds"),
        ({"thresholds": {"high": 5, "medium": 5}}, "must be below high"),
        ({"everyone": {"en": ["!!!"]}}, "has no words"),
        ({"patterns": {"de": [r"(\d+) Benutzer"]}}, "patterns.de"),
    ],
)
def test_config_rejects_bad_affected_user_rules(affected: dict[str, Any], message: str) -> None:
    config = _config()
    config["affected_users"].update(affected)
    with pytest.raises(ValidationError, match=re.escape(message)):
        PriorityRules.model_validate(config)


def test_config_rejects_unknown_keys_and_bad_raises() -> None:
    with pytest.raises(ValidationError, match="extra"):
        PriorityRules.model_validate(_config(surprise=1))
    with pytest.raises(ValidationError, match=r"plan_raise\.vip"):
        PriorityRules.model_validate(_config(plan_raise={"vip": -1}))


def test_load_triage_says_which_file_is_wrong(tmp_path: Path) -> None:
    (tmp_path / "triage.yaml").write_text("priority: {}\ntiers: {}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"triage\.yaml"):
        load_triage(tmp_path)
    with pytest.raises(ConfigError, match="file not found"):
        load_triage(tmp_path / "nowhere")
