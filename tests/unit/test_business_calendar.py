"""Business calendars: deadlines and elapsed business time across holidays, DST and year ends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.business_calendar import WEEKDAYS, BusinessCalendar, CalendarSpec, load_calendars
from shared.config import ConfigError

ROOT = Path(__file__).resolve().parents[2]
CALENDARS = load_calendars(ROOT / "config")
GREECE, IRAN, RUSSIA = (CALENDARS.get(name) for name in ("greece", "iran", "russia"))
ATHENS, TEHRAN, MOSCOW = (ZoneInfo(z) for z in ("Europe/Athens", "Asia/Tehran", "Europe/Moscow"))
H = timedelta(hours=1)


def _calendar(name: str, **spec: Any) -> BusinessCalendar:
    return BusinessCalendar(name, CalendarSpec.model_validate(spec))


# A split shift in a zone whose DST changes fall inside Sunday's hours (02:00 local).
SPLIT = _calendar(
    "split",
    timezone="America/New_York",
    week={
        "mon": ["08:00-12:00", "13:00-17:00"],
        "wed": ["08:00-12:00", "12:30-17:00", "16:00-18:00"],
        "sun": ["01:30-02:30", "02:45-03:15"],
    },
    holidays=["2026-07-03"],
    half_days={"2026-07-04": ["10:00-11:00"]},
)
ROUND_THE_CLOCK_ATHENS = _calendar(
    "athens-round-the-clock",
    timezone="Europe/Athens",
    week={day: ["00:00-24:00"] for day in WEEKDAYS},
)
EVERY_CALENDAR = [*(CALENDARS.get(n) for n in CALENDARS.names), SPLIT, ROUND_THE_CLOCK_ATHENS]


def _local(
    zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone)


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _critical_instants() -> list[datetime]:
    """UTC midnights of the days around each DST change and each year end, 2024-2028."""
    zones = [ATHENS, TEHRAN, MOSCOW, ZoneInfo("America/New_York")]
    found = []
    day = _utc(2024, 1, 1)
    while day < _utc(2029, 1, 1):
        following = day + timedelta(days=1)
        if any(day.astimezone(z).utcoffset() != following.astimezone(z).utcoffset() for z in zones):
            found.append(day)
        if day.month == 12 and day.day == 31:
            found.append(day)
        day = following
    return found


instants = st.one_of(
    st.datetimes(
        datetime(2024, 1, 1),
        datetime(2028, 12, 31),
        timezones=st.sampled_from([UTC, ATHENS, TEHRAN]),
    ),
    st.builds(
        lambda base, shift: base + shift,
        st.sampled_from(_critical_instants()),
        st.timedeltas(timedelta(days=-1), timedelta(days=2)),
    ),
)
amounts = st.one_of(
    st.timedeltas(timedelta(0), timedelta(hours=3)),
    st.timedeltas(timedelta(0), timedelta(days=6)),
)
calendars = st.sampled_from(EVERY_CALENDAR)
FAST = settings(max_examples=200, deadline=None)


@FAST
@given(calendars, instants, amounts)
def test_measuring_what_was_added_gives_it_back(cal: BusinessCalendar, t: datetime, d: timedelta):
    assert cal.elapsed(t, cal.add(t, d)) == d


@FAST
@given(calendars, instants, amounts.filter(lambda d: d > timedelta(0)))
def test_a_deadline_never_falls_in_closed_hours(cal: BusinessCalendar, t: datetime, d: timedelta):
    due = cal.add(t, d)
    assert due.tzinfo is UTC
    assert cal.is_open(due - timedelta(microseconds=1))
    just_before = due - timedelta(microseconds=1)
    day = just_before.astimezone(cal.timezone).date()
    assert any(start < due <= end for start, end in cal.open_intervals(day))


@FAST
@given(calendars, instants, instants, amounts, amounts)
def test_add_is_monotonic_in_start_and_amount(
    cal: BusinessCalendar, t1: datetime, t2: datetime, d1: timedelta, d2: timedelta
):
    t1, t2 = sorted([t1, t2])
    d1, d2 = sorted([d1, d2])
    assert cal.add(t1, d1) <= cal.add(t2, d1)
    assert cal.add(t1, d1) <= cal.add(t1, d2)


@FAST
@given(calendars, instants, instants, instants)
def test_elapsed_is_additive(cal: BusinessCalendar, a: datetime, b: datetime, c: datetime):
    a, b, c = sorted([a, b, c])
    assert cal.elapsed(a, c) == cal.elapsed(a, b) + cal.elapsed(b, c)


def test_iranian_deadline_skips_the_short_thursday_friday_and_nowruz():
    ticket = _local(TEHRAN, 2026, 3, 18, 15)  # Wednesday, one hour before closing
    assert IRAN.add(ticket, 3 * H) == _local(TEHRAN, 2026, 3, 19, 10)  # Thursday 08:00 + 2 h
    # 1 h Wednesday, 5 h Thursday (08-13), Friday off, Nowruz Saturday 21 to Tuesday 24.
    assert IRAN.add(ticket, 8 * H) == _utc(2026, 3, 25, 6, 30)  # 10:00 Tehran, UTC+03:30
    assert IRAN.open_intervals(date(2026, 3, 22)) == []


def test_greek_holidays_are_closed_all_day():
    # Independence Day, Wednesday 2026-03-25.
    assert GREECE.add(_local(ATHENS, 2026, 3, 24, 16), 3 * H) == _utc(2026, 3, 26, 9)
    # Good Friday, the weekend and Easter Monday; summer time has begun (UTC+3).
    assert GREECE.add(_local(ATHENS, 2026, 4, 9, 16), 2 * H) == _utc(2026, 4, 14, 7)
    assert GREECE.elapsed(_local(ATHENS, 2026, 4, 9, 16), _utc(2026, 4, 14, 7)) == 2 * H


def test_athens_dst_changes_count_real_time():
    spring, autumn = date(2026, 3, 29), date(2026, 10, 25)
    assert ROUND_THE_CLOCK_ATHENS.open_intervals(spring) == [
        (_utc(2026, 3, 28, 22), _utc(2026, 3, 29, 21))
    ]
    assert ROUND_THE_CLOCK_ATHENS.open_intervals(autumn) == [
        (_utc(2026, 10, 24, 21), _utc(2026, 10, 25, 22))
    ]
    local_midnight = _local(ATHENS, 2026, 3, 29)
    assert ROUND_THE_CLOCK_ATHENS.elapsed(local_midnight, _local(ATHENS, 2026, 3, 30)) == 23 * H
    assert ROUND_THE_CLOCK_ATHENS.add(local_midnight, 24 * H) == _local(ATHENS, 2026, 3, 30, 1)
    assert (
        ROUND_THE_CLOCK_ATHENS.elapsed(_local(ATHENS, 2026, 10, 25), _local(ATHENS, 2026, 10, 26))
        == 25 * H
    )
    # An office week across the change: Friday 16:00 EET + 2 h is Monday 10:00 EEST.
    assert GREECE.add(_local(ATHENS, 2026, 3, 27, 16), 2 * H) == _utc(2026, 3, 30, 7)


def test_a_nonexistent_wall_time_reads_with_the_offset_before_the_change():
    gap = _calendar("gap", timezone="Europe/Athens", week={"sun": ["03:30-05:00", "03:30-04:15"]})
    # 03:30 does not exist on 2026-03-29: it is read as EET, i.e. 04:30 EEST.
    assert gap.open_intervals(date(2026, 3, 29)) == [
        (_utc(2026, 3, 29, 1, 30), _utc(2026, 3, 29, 2))
    ]
    dropped = _calendar("dropped", timezone="Europe/Athens", week={"sun": ["03:30-04:15"]})
    assert dropped.open_intervals(date(2026, 3, 29)) == []


def test_split_shift_skips_the_lunch_break_and_ends_at_closing_time():
    noon = _local(MOSCOW, 2026, 3, 16, 12)  # Monday
    assert RUSSIA.add(noon, 2 * H) == _local(MOSCOW, 2026, 3, 16, 15)
    assert RUSSIA.add(noon, H) == _utc(2026, 3, 16, 10)  # 13:00 Moscow, not 14:00
    assert not RUSSIA.is_open(_local(MOSCOW, 2026, 3, 16, 13, 30))
    assert RUSSIA.elapsed(noon, _local(MOSCOW, 2026, 3, 16, 15)) == 2 * H


def test_overlapping_intervals_are_merged():
    new_york = ZoneInfo("America/New_York")
    assert SPLIT.open_intervals(date(2026, 7, 1)) == [
        (_local(new_york, 2026, 7, 1, 8), _local(new_york, 2026, 7, 1, 12)),
        (_local(new_york, 2026, 7, 1, 12, 30), _local(new_york, 2026, 7, 1, 18)),
    ]


def test_christmas_eve_is_a_greek_half_day():
    christmas_eve = _local(ATHENS, 2026, 12, 24, 12)  # Thursday
    assert not GREECE.is_open(_local(ATHENS, 2026, 12, 24, 14))
    # 1 h to 13:00, Christmas and the weekend closed, Monday 09:00 + 2 h.
    assert GREECE.add(christmas_eve, 3 * H) == _utc(2026, 12, 28, 9)


def test_a_half_day_overrides_a_holiday_and_working_days_override_the_country():
    assert SPLIT.open_intervals(date(2026, 7, 3)) == []
    opened = _calendar(
        "opened",
        timezone="Europe/Athens",
        country="GR",
        week={"wed": ["09:00-17:00"]},
        working_days=["2026-03-25"],
        half_days={"2026-12-25": ["10:00-11:00"]},
    )
    assert opened.open_intervals(date(2026, 3, 25)) == [
        (_utc(2026, 3, 25, 7), _utc(2026, 3, 25, 15))
    ]
    assert opened.open_intervals(date(2026, 12, 25)) == [
        (_utc(2026, 12, 25, 8), _utc(2026, 12, 25, 9))
    ]


def test_a_deadline_crosses_the_year_end():
    # Wednesday 2025-12-31 16:00: 1 h left, New Year's Day closed, Friday 2 January 09:00 + 1 h.
    assert GREECE.add(_local(ATHENS, 2025, 12, 31, 16), 2 * H) == _utc(2026, 1, 2, 8)
    assert GREECE.elapsed(_local(ATHENS, 2025, 12, 31, 16), _utc(2026, 1, 2, 8)) == 2 * H


def test_round_the_clock_calendar_is_plain_real_time():
    always = CALENDARS.get("24x7")
    start = _local(ATHENS, 2026, 3, 28, 12)
    assert always.add(start, 24 * H) == _utc(2026, 3, 29, 10)
    assert always.elapsed(start, _local(ATHENS, 2026, 3, 29, 12)) == 23 * H


def test_zero_amount_returns_the_start_and_bad_input_is_rejected():
    start = _local(ATHENS, 2026, 3, 28, 12)
    assert GREECE.add(start, timedelta(0)) == start
    assert GREECE.elapsed(start, start) == timedelta(0)
    with pytest.raises(ValueError, match="negative"):
        GREECE.add(start, -timedelta(microseconds=1))
    with pytest.raises(ValueError, match="timezone-aware"):
        GREECE.add(datetime(2026, 3, 28, 12), H)
    with pytest.raises(ValueError, match="timezone-aware"):
        GREECE.elapsed(start, datetime(2026, 3, 29))
    with pytest.raises(ValueError, match="before start"):
        GREECE.elapsed(start, start - timedelta(microseconds=1))


def test_a_calendar_never_open_raises_instead_of_looping():
    closed = _calendar("closed", timezone="UTC")
    with pytest.raises(ValueError, match="calendar closed is never open"):
        closed.add(_utc(2026, 1, 1), H)
    assert closed.elapsed(_utc(2026, 1, 1), _utc(2027, 1, 1)) == timedelta(0)


def test_teams_map_to_calendars_with_the_default_as_fallback():
    assert CALENDARS.for_team("accounts") is IRAN
    assert CALENDARS.for_team("nobody") is GREECE
    assert CALENDARS.for_team(None) is GREECE
    with pytest.raises(KeyError, match="atlantis"):
        CALENDARS.get("atlantis")


BASE = """
default: office
teams: {support: office}
calendars:
  office: {timezone: Europe/Athens, week: {mon: ["09:00-17:00"]}}
"""


@pytest.mark.parametrize(
    ("yaml_text", "problem"),
    [
        (BASE.replace("Europe/Athens", "Mars/Olympus"), "unknown time zone 'Mars/Olympus'"),
        (BASE.replace("09:00-17:00", "17:00-09:00"), "'17:00-09:00': the end must be after"),
        (BASE.replace("09:00-17:00", "9am-5pm"), "'9am-5pm' is not opening hours"),
        (BASE.replace("support: office", "support: atlantis"), "calendar 'atlantis', not defined"),
        (BASE.replace("default: office", "default: atlantis"), "default calendar 'atlantis'"),
        (BASE.replace("timezone:", "country: XX, timezone:"), "unknown country code 'XX'"),
        (BASE.replace('{mon: ["09:00-17:00"]}', "{}"), "calendar 'office' is never open"),
    ],
)
def test_a_bad_calendars_file_fails_to_load_naming_the_problem(
    tmp_path: Path, yaml_text: str, problem: str
):
    (tmp_path / "calendars.yaml").write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ConfigError, match=problem):
        load_calendars(tmp_path)
