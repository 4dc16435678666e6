"""Signs of poor service and monthly reports in the notifier: their notices, who hears of them
by which channels (config/notifier.yaml `signals` and `reports`), and how their emails read in
every language."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml

from services.notifier.config import load_notifier_config
from services.notifier.domain.insights import insight_notice, report_notice, signal_notice
from services.notifier.domain.ladders import NotifierConfig, Rules, Step, first_step
from services.notifier.domain.notices import Notice, Recipient, line
from services.notifier.domain.telling import NobodyToTell, tell
from services.notifier.domain.wording import LANGUAGES
from services.notifier.render import render_email
from shared.business_calendar import load_calendars
from shared.config import ConfigError
from shared.directory import load_directory
from shared.events import (
    CategoryLine,
    MonthlyReportReady,
    SignalKind,
    SignalRaised,
    SurveyOffered,
)
from shared.ids import derived_id, ticket_reference

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
CONFIG = load_notifier_config(CONFIG_DIR)
DIRECTORY = load_directory(CONFIG_DIR)
RULES = Rules(ladders=CONFIG, directory=DIRECTORY, calendars=load_calendars(CONFIG_DIR))
RAW = yaml.safe_load((CONFIG_DIR / "notifier.yaml").read_text(encoding="utf-8"))
#: Monday 5 January 2026, 11:00 in Athens: inside the lead's working hours.
MONDAY = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
KINDS: tuple[SignalKind, ...] = get_args(SignalKind)


def low_csat(**fields: Any) -> SignalRaised:
    values: dict[str, Any] = {
        "subject": "t-77",
        "ticket_id": "t-77",
        "kind": "low_csat",
        "team": "technical",
        "agent_id": "ag-nika",
        "reference": ticket_reference("t-77"),
        "value": 2,
        "threshold": 2,
        "detail": "scored 2: 'nobody called me back'",
        "occurred_at": MONDAY,
    }
    return SignalRaised(**(values | fields))


def reply_wait(**fields: Any) -> SignalRaised:
    """A sign about an agent alone: no ticket, no team (the agent's is used)."""
    values: dict[str, Any] = {
        "subject": "ag-john",
        "kind": "reply_wait",
        "agent_id": "ag-john",
        "value": 30_600,
        "threshold": 28_800,
        "detail": "customers waited past the threshold three times this week",
        "occurred_at": MONDAY,
    }
    return SignalRaised(**(values | fields))


def monthly(**fields: Any) -> MonthlyReportReady:
    values: dict[str, Any] = {
        "manager_id": "mgr-technical",
        "month": "2026-01",
        "teams": ["technical"],
        "tickets": 412,
        "previous_tickets": 400,
        "lines": [
            CategoryLine(path="network", count=120, share=0.2912, change=12),
            CategoryLine(path="network/vpn", count=40, share=1 / 3, change=-3),
            CategoryLine(path="network/vpn/client", count=30, share=0.75, change=0),
            CategoryLine(path="software", count=292, share=None, change=3),
        ],
        "link": "https://insights.example/reports/2026-01",
        "occurred_at": MONDAY,
    }
    return MonthlyReportReady(**(values | fields))


def reader(language: str, role: Any = "lead") -> Recipient:
    return Recipient(
        person_id="p-1", name="Reader", email="p1@helpdesk.example", language=language, role=role
    )


def _config(**sections: Any) -> NotifierConfig:
    return NotifierConfig.model_validate(copy.deepcopy(RAW) | sections)


def _rules(config: NotifierConfig) -> Rules:
    return Rules(ladders=config, directory=DIRECTORY, calendars=RULES.calendars)


# --- notices ------------------------------------------------------------------------------


def test_a_sign_about_a_ticket_names_the_ticket_the_agent_and_the_team() -> None:
    notice = signal_notice(low_csat(), DIRECTORY)
    assert (notice.kind, notice.ticket_id, notice.reference, notice.team) == (
        "signal",
        "t-77",
        ticket_reference("t-77"),
        "technical",
    )
    assert notice.signal is not None
    assert (notice.signal.kind, notice.signal.agent_name, notice.signal.value) == (
        "low_csat",
        "Nika Ahmadi",
        2,
    )


def test_a_sign_about_an_agent_has_no_ticket_and_takes_the_agents_team() -> None:
    notice = signal_notice(reply_wait(), DIRECTORY)
    assert (notice.ticket_id, notice.reference, notice.team) == (None, None, "accounts")
    # A subject that is no agent and no ticket id in the envelope is still the ticket.
    loose = signal_notice(low_csat(ticket_id=None, reference=None), DIRECTORY)
    assert (loose.ticket_id, loose.reference) == ("t-77", ticket_reference("t-77"))


def test_a_report_is_for_the_manager_it_names_and_about_no_ticket() -> None:
    notice = report_notice(monthly())
    assert (notice.kind, notice.addressee_id, notice.ticket_id) == (
        "monthly_report",
        "mgr-technical",
        None,
    )
    assert notice.report is not None and [x.path for x in notice.report.lines][:2] == [
        "network",
        "network/vpn",
    ]
    survey = SurveyOffered(
        ticket_id="t-1", language="en", link="https://x.example/s", expires_at=MONDAY
    )
    with pytest.raises(ValueError, match=r"nobody is told about survey\.offered"):
        insight_notice(survey, DIRECTORY)


def test_a_ticket_notice_still_needs_a_ticket() -> None:
    with pytest.raises(ValueError, match="about a ticket"):
        Notice(
            kind="assigned",
            event_id="e-1",
            event_type="ticket.assigned",
            occurred_at=MONDAY,
            ticket_id=None,
            reference=None,
        )


@pytest.mark.parametrize(
    ("event", "text"),
    [
        (
            low_csat(),
            f"{ticket_reference('t-77')} coaching notice: low satisfaction score (Nika Ahmadi): "
            "2 of 5 (threshold 2 of 5) — scored 2: 'nobody called me back'",
        ),
        (
            reply_wait(detail=""),
            "Coaching notice: long wait for a reply (John Carter): 8 h 30 min (threshold 8 h)",
        ),
        (monthly(), "Monthly report 2026-01: 412 tickets (+12 on the month before)"),
    ],
)
def test_a_sign_or_a_report_reads_as_one_console_line(event: Any, text: str) -> None:
    assert line(insight_notice(event, DIRECTORY)) == text


# --- who hears, by which channels ---------------------------------------------------------


def test_every_kind_goes_to_the_lead_by_email_and_push_by_default() -> None:
    for kind in KINDS:
        step = first_step(signal_notice(low_csat(kind=kind), DIRECTORY), CONFIG)
        assert step == Step(
            notify=("lead",), channels=("email", "push"), urgent=False, level=f"signal:{kind}"
        )
    report = first_step(report_notice(monthly()), CONFIG)
    assert report == Step(
        notify=("manager",), channels=("email",), urgent=False, level="monthly_report"
    )
    # Left out of the file, the section says the same.
    defaults = NotifierConfig.model_validate({"ladders": RAW["ladders"]})
    for kind in KINDS:
        assert defaults.signals.audience(kind) == CONFIG.signals.audience(kind)
    assert defaults.reports.audience() == CONFIG.reports.audience()


def test_a_kind_may_be_switched_off_or_given_its_own_rule() -> None:
    config = _config(
        signals={
            "channels": ["email"],
            "kinds": {"website_only": "off", "off_shift": False, "low_csat": {"urgent": True}},
        },
        reports={"monthly": False},
    )
    assert first_step(signal_notice(low_csat(kind="off_shift"), DIRECTORY), config) is None
    urgent = first_step(signal_notice(low_csat(), DIRECTORY), config)
    assert urgent is not None and (urgent.notify, urgent.channels, urgent.urgent) == (
        ("lead",),
        ("email",),
        True,
    )
    assert first_step(report_notice(monthly()), config) is None


def test_a_low_csat_sign_tells_the_technical_lead_once_by_email_and_push() -> None:
    event = low_csat()
    notice = signal_notice(event, DIRECTORY)
    step = first_step(notice, CONFIG)
    assert step is not None
    told = tell(notice, step, [], now=MONDAY, rules=RULES)
    again = tell(notice, step, [], now=MONDAY, rules=RULES)
    [job] = told.messages.jobs
    assert (job.key, job.recipient, job.address, job.ticket_id) == (
        f"{event.event_id}:lead-technical:email",
        "lead-technical",
        "ivan.lead@helpdesk.example",
        "t-77",
    )
    assert job.person is not None and job.person.language == "ru"
    assert told.messages.pushed is not None
    assert told.messages.pushed.recipients == ["lead-technical"]
    assert told.messages.pushed.event_id == derived_id(event.event_id, "push", 0)
    assert told.escalation is None
    # Decided again (a redelivery), it makes the same keys and ids: the outbox and the
    # consoles drop the repeat.
    assert [j.key for j in again.messages.jobs] == [job.key]
    assert again.messages.pushed is not None
    assert again.messages.pushed.event_id == told.messages.pushed.event_id


def test_a_team_without_a_lead_tells_its_manager_and_an_agents_sign_pushes_no_ticket() -> None:
    notice = signal_notice(reply_wait(), DIRECTORY)
    step = first_step(notice, CONFIG)
    assert step is not None
    told = tell(notice, step, [], now=MONDAY, rules=RULES)
    assert [(j.recipient, j.address, j.ticket_id) for j in told.messages.jobs] == [
        ("mgr-accounts", "sara.manager@helpdesk.example", None)
    ]
    pushed = told.messages.pushed
    assert pushed is not None and (pushed.recipients, pushed.ticket_id) == (["mgr-accounts"], "")


def test_a_coaching_email_waits_for_working_hours_but_its_push_does_not() -> None:
    saturday_night = datetime(2026, 1, 10, 20, 0, tzinfo=UTC)  # 22:00 in Athens
    notice = signal_notice(low_csat(), DIRECTORY)
    step = first_step(notice, CONFIG)
    assert step is not None
    told = tell(notice, step, [], now=saturday_night, rules=RULES)
    [job] = told.messages.jobs
    assert job.send_at == datetime(2026, 1, 12, 7, 0, tzinfo=UTC)  # Monday 09:00 in Athens
    assert told.messages.pushed is not None


def test_a_report_goes_to_its_manager_and_an_unknown_one_is_nobody_to_tell() -> None:
    notice = report_notice(monthly(manager_id="mgr-accounts"))
    step = first_step(notice, CONFIG)
    assert step is not None
    told = tell(notice, step, [], now=MONDAY, rules=RULES)
    [job] = told.messages.jobs
    assert (job.recipient, job.address, job.person and job.person.language) == (
        "mgr-accounts",
        "sara.manager@helpdesk.example",
        "fa",
    )
    assert told.messages.pushed is None
    ghost = report_notice(monthly(manager_id="mgr-ghost"))
    with pytest.raises(NobodyToTell, match="person 'mgr-ghost'"):
        tell(ghost, step, [], now=MONDAY, rules=RULES)


def test_a_sign_of_an_unknown_team_is_nobody_to_tell() -> None:
    notice = signal_notice(low_csat(team="nowhere", agent_id=None), DIRECTORY)
    step = first_step(notice, CONFIG)
    assert step is not None
    with pytest.raises(NobodyToTell, match="team 'nowhere'"):
        tell(notice, step, [], now=MONDAY, rules=RULES)


# --- refused configs ----------------------------------------------------------------------


def _refused(tmp_path: Path, **sections: Any) -> ConfigError:
    (tmp_path / "notifier.yaml").write_text(
        yaml.safe_dump(copy.deepcopy(RAW) | sections), encoding="utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        load_notifier_config(tmp_path)
    return caught.value


def test_an_unknown_kind_is_refused_naming_the_file_and_the_field(tmp_path: Path) -> None:
    error = _refused(tmp_path, signals={"kinds": {"low_cast": False}})
    assert error.file == str(tmp_path / "notifier.yaml")
    assert error.field is not None and error.field.startswith("signals.kinds.low_cast")
    assert "'low_csat'" in error.problem and "'low_cast'" in error.problem


@pytest.mark.parametrize(
    ("sections", "field", "said"),
    [
        ({"signals": {"channels": ["email", "sms"]}}, "signals.channels.1", "'sms'"),
        ({"signals": {"channels": ["push", "webhook"]}}, "signals.channels", "chat room"),
        (
            {"signals": {"kinds": {"low_csat": {"channels": ["webhook"]}}}},
            "signals.kinds.low_csat",
            "chat room",
        ),
        ({"signals": {"notify": ["team"]}}, "signals.notify.0", "'lead' or 'manager'"),
        ({"signals": {"channels": ["email", "email"]}}, "signals.channels", "listed twice"),
        ({"signals": {"kinds": {"low_csat": True}}}, "signals.kinds.low_csat", "low_csat"),
        ({"signals": {"often": 3}}, "signals.often", "Extra inputs"),
        ({"reports": {"monthly": {"channels": ["fax"]}}}, "reports.monthly", "'fax'"),
    ],
)
def test_bad_channels_roles_and_rules_are_refused_by_field(
    tmp_path: Path, sections: dict[str, Any], field: str, said: str
) -> None:
    error = _refused(tmp_path, **sections)
    assert error.field is not None and error.field.startswith(field), error.field
    assert said in str(error)


# --- emails -------------------------------------------------------------------------------


def fact(text: str, label: str) -> str | None:
    """The value the plain-text part gives a label, as in `Threshold:   8 h`."""
    for row in text.splitlines():
        if row.startswith(f"{label}:"):
            return row.removeprefix(f"{label}:").strip()
    return None


def _words(text: str) -> set[str]:
    return {word.strip(":·,.()") for word in text.split()} - {"", "--"}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_of_sign_renders_in_every_language(kind: SignalKind, language: str) -> None:
    notice = signal_notice(low_csat(kind=kind, value=5400, threshold=1800), DIRECTORY)
    rendered = render_email([notice], reader(language))
    assert rendered.language == language
    assert rendered.subject.startswith(f"[{ticket_reference('t-77')}] ")
    html_text = unescape(re.sub(r"<[^>]+>", " ", rendered.html))
    assert _words(rendered.text) <= _words(html_text)
    for part in (rendered.text, html_text):
        assert "Nika Ahmadi (ag-nika)" in part and "nobody called me back" in part


@pytest.mark.parametrize(
    ("language", "subject", "said", "measured", "threshold"),
    [
        (
            "en",
            "Coaching notice: Long wait for a reply",
            ["This is a coaching notice", "never shown"],
            ("Measured", "8 h 30 min"),
            ("Threshold", "8 h"),
        ),
        (
            "ru",
            "Повод для коучинга: долгое ожидание ответа",
            ["уведомление для коучинга", "никогда не показывается"],
            ("Значение", "8 ч 30 мин"),
            ("Порог", "8 ч"),
        ),
        (
            "el",
            "Ειδοποίηση καθοδήγησης: Μεγάλη αναμονή για απάντηση",
            ["ειδοποίηση καθοδήγησης", "δεν εμφανίζεται ποτέ"],
            ("Μέτρηση", "8 ώ 30 λ"),
            ("Όριο", "8 ώ"),
        ),
        (
            "fa",
            "اعلان مربیگری: انتظار طولانی برای پاسخ",
            ["اعلان مربیگری", "هرگز به مشتری نشان داده نمی‌شود"],
            ("مقدار اندازه‌گیری‌شده", "۸ ساعت ۳۰ دقیقه"),
            ("آستانه", "۸ ساعت"),
        ),
    ],
)
def test_a_sign_says_it_is_coaching_and_gives_times_in_hours_and_minutes(
    language: str,
    subject: str,
    said: list[str],
    measured: tuple[str, str],
    threshold: tuple[str, str],
) -> None:
    notice = signal_notice(reply_wait(), DIRECTORY)
    rendered = render_email([notice], reader(language, role="manager"))
    assert rendered.subject.startswith(subject)
    for part in said:
        assert part in rendered.text, part
    assert fact(rendered.text, measured[0]) == measured[1]
    assert fact(rendered.text, threshold[0]) == threshold[1]
    # About an agent alone: the subject names them, there is no ticket line.
    assert rendered.subject.endswith("— John Carter")
    assert "John Carter (ag-john)" in rendered.text


@pytest.mark.parametrize(
    ("kind", "value", "shown"),
    [
        ("low_csat", 2, "2 of 5"),
        ("passed_around", 5, "5 transfers"),
        ("queue_wait", 2700, "45 min"),
        ("off_shift", 5400, "1 h 30 min"),
        ("negative_wording", 0.35, "0.35"),
        ("repeat_contact", 3, "3"),
    ],
)
def test_a_signs_value_is_shown_in_its_unit(kind: SignalKind, value: float, shown: str) -> None:
    notice = signal_notice(low_csat(kind=kind, value=value, threshold=None), DIRECTORY)
    text = render_email([notice], reader("en")).text
    assert fact(text, "Measured") == shown
    assert fact(text, "Threshold") is None


def test_a_low_csat_sign_reads_in_russian() -> None:
    rendered = render_email([signal_notice(low_csat(), DIRECTORY)], reader("ru"))
    assert rendered.subject == (
        f"[{ticket_reference('t-77')}] Повод для коучинга: низкая оценка удовлетворённости"
    )
    for part in ("2 из 5", "Порог:", "Агент:", "уведомление для коучинга", "клиенту"):
        assert part in rendered.text, part


@pytest.mark.parametrize(
    ("language", "subject", "tree"),
    [
        (
            "en",
            "Monthly report for January 2026: 412 tickets",
            ["  network: 120 · 29.1% · +12", "    vpn: 40 · 33.3% · -3", "      client: 30"],
        ),
        (
            "el",
            "Μηνιαία αναφορά Ιανουάριος 2026: 412 αιτήματα",
            ["  network: 120 · 29,1% · +12", "    vpn: 40 · 33,3% · -3"],
        ),
        (
            "ru",
            "Ежемесячный отчёт за январь 2026: всего тикетов 412",
            ["  network: 120 · 29,1 % · +12", "      client: 30 · 75,0 % · 0"],
        ),
        ("fa", "گزارش ماهانه ژانویه ۲۰۲۶: ۴۱۲ تیکت", ["  network: ۱۲۰ · ۲۹٫۱٪ · +۱۲"]),
    ],
)
def test_a_monthly_report_lists_the_tree_indented_by_depth_in_the_managers_language(
    language: str, subject: str, tree: list[str]
) -> None:
    rendered = render_email([report_notice(monthly())], reader(language, role="manager"))
    assert rendered.subject == subject
    lines = rendered.text.splitlines()
    for row in tree:
        assert any(line.startswith(row) for line in lines), row
    assert "  software: " in rendered.text and "–" in rendered.text  # no share given
    assert "https://insights.example/reports/2026-01" in rendered.text
    assert 'href="https://insights.example/reports/2026-01"' in rendered.html
    html_text = unescape(re.sub(r"<[^>]+>", " ", rendered.html))
    assert _words(rendered.text) <= _words(html_text)


def test_a_report_shows_the_change_on_the_month_before_with_its_sign() -> None:
    fewer = render_email([report_notice(monthly(tickets=380))], reader("en")).text
    assert (fact(fewer, "Tickets"), fact(fewer, "Month before")) == ("380", "400")
    assert fact(fewer, "Change") == "-20 (-5.0%)"
    first = render_email([report_notice(monthly(previous_tickets=0))], reader("en")).text
    assert fact(first, "Change") == "+412"
    persian = render_email([report_notice(monthly())], reader("fa")).text
    assert fact(persian, "تغییر") == "+۱۲ (+۳٫۰٪)"


def test_an_empty_report_says_so_and_only_web_links_are_followed() -> None:
    notice = report_notice(monthly(tickets=0, lines=[], link="javascript:alert(1)"))
    rendered = render_email([notice], reader("en"))
    assert "No tickets were opened in the month." in rendered.text
    assert "By category" not in rendered.text
    assert "javascript" not in rendered.text and "javascript" not in rendered.html
    odd = render_email([report_notice(monthly(month="Q1"))], reader("ru"))
    assert odd.subject.startswith("Ежемесячный отчёт за Q1:")


def test_signs_may_fold_into_a_digest_with_other_notices() -> None:
    notices = [
        signal_notice(low_csat(), DIRECTORY),
        signal_notice(reply_wait(), DIRECTORY),
        signal_notice(low_csat(kind="negative_wording", value=None), DIRECTORY),
    ]
    rendered = render_email(notices, reader("en"))
    assert rendered.subject.startswith(f"[{ticket_reference('t-77')}] 3 notices")
    assert rendered.text.count("This is a coaching notice") == 3
    only_agents = render_email([notices[1], notices[1]], reader("en"))
    assert only_agents.subject == "2 notices"


def test_a_sign_told_by_push_alone_enqueues_no_email() -> None:
    notice = signal_notice(low_csat(), DIRECTORY)
    config = _config(signals={"channels": ["push"]})
    step = first_step(notice, config)
    assert step is not None
    told = tell(notice, step, [], now=MONDAY + timedelta(days=5), rules=_rules(config))
    assert told.messages.jobs == [] and told.messages.pushed is not None
