"""Business calendars: when each team's SLA clocks run, exact to the microsecond across DST,
holidays and year ends. Operators configure them in config/calendars.yaml.

How it works. Business time is real (UTC) time spent inside open intervals. Opening hours are
written in local wall time, so the local date is the unit of work: for each date the calendar
picks the hours that apply (a half-day's own hours; nothing on a holiday unless the date is a
listed working day; else the weekday's hours), converts them to UTC instants with zoneinfo,
clips them to that date's real span, drops empty ones and merges overlaps. The result (the
intervals and their total) is cached per date, so DST is handled once, when a date is built:
00:00-24:00 lasts 23 h on a spring-forward date and 25 h on a fall-back date. A wall time that
does not exist (the spring-forward gap) is read with the offset in force before the change
(PEP 495, fold=0): in Athens on 2026-03-29, 03:30 becomes 04:30 EEST, so "03:30-04:15" ends
before it starts and is dropped. An ambiguous wall time (fall back) is its first occurrence.

`add` walks dates forward from the start's local date. A date that opens after the cursor and
whose whole total is less than what remains is consumed in one step; otherwise its intervals
are walked and the answer is the first instant where the remainder runs out, so a target that
ends exactly at closing time is that closing time, not the next opening. `elapsed` walks the
dates between its two ends, adding whole dates in one step and clipping the two ends.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holiday_data
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, model_validator

from shared.config import load_yaml

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
NEVER_OPEN_DAYS = 3660  # consecutive closed dates (about ten years) before add() gives up
_DAY_CACHE_SIZE = 8192  # built dates kept per calendar: about 22 years
_ZERO = timedelta(0)
_ONE_DAY = timedelta(days=1)
_MINUTES_PER_DAY = 24 * 60
_HOURS = re.compile(r"(\d\d):(\d\d)-(\d\d):(\d\d)")

Interval = tuple[datetime, datetime]


def _parse_hours(value: object) -> tuple[int, int]:
    """'09:00-17:00' -> (540, 1020): minutes since local midnight; '24:00' may only end a day."""
    match = _HOURS.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not opening hours written like '09:00-17:00'")
    start_h, start_m, end_h, end_m = (int(part) for part in match.groups())
    if start_h > 23 or end_h > 24 or start_m > 59 or end_m > 59 or (end_h == 24 and end_m):
        raise ValueError(f"{value!r} has a time outside 00:00-24:00")
    start, end = start_h * 60 + start_m, end_h * 60 + end_m
    if end <= start:
        raise ValueError(
            f"{value!r}: the end must be after the start (split hours that cross midnight)"
        )
    return start, end


OpeningHours = Annotated[tuple[int, int], BeforeValidator(_parse_hours)]


_supported_countries = functools.cache(holiday_data.list_supported_countries)


class CalendarSpec(BaseModel):
    """One calendar as an operator writes it in config/calendars.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str
    country: str | None = None
    subdivision: str | None = None
    always_open: bool = False
    week: dict[Weekday, list[OpeningHours]] = Field(default_factory=dict)
    holidays: list[date] = Field(default_factory=list)
    half_days: dict[date, list[OpeningHours]] = Field(default_factory=dict)
    working_days: list[date] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> CalendarSpec:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc
        if self.country is not None:
            subdivisions = _supported_countries().get(self.country)
            if subdivisions is None:
                raise ValueError(f"unknown country code {self.country!r} (ISO 3166, e.g. 'GR')")
            if self.subdivision is not None and self.subdivision not in subdivisions:
                raise ValueError(f"unknown subdivision {self.subdivision!r} of {self.country}")
        elif self.subdivision is not None:
            raise ValueError("a subdivision needs a country")
        if self.always_open and (
            self.country or self.week or self.holidays or self.half_days or self.working_days
        ):
            raise ValueError("an always_open calendar takes no country, week or special dates")
        if clash := sorted(set(self.holidays) & set(self.working_days)):
            raise ValueError(f"dates listed both as holidays and working_days: {clash}")
        return self


class _Day(NamedTuple):
    intervals: tuple[Interval, ...]  # UTC, sorted, merged
    total: timedelta


def _as_utc(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {value.isoformat()}")
    return value.astimezone(UTC)


class BusinessCalendar:
    """A calendar's open time; immutable. All results are UTC-aware datetimes."""

    def __init__(self, name: str, spec: CalendarSpec) -> None:
        self._name = name
        self._tz = ZoneInfo(spec.timezone)
        self._always_open = spec.always_open
        self._week = tuple(tuple(spec.week.get(day, [])) for day in WEEKDAYS)
        self._half_days = {day: tuple(hours) for day, hours in spec.half_days.items()}
        self._extra_holidays = frozenset(spec.holidays)
        self._working_days = frozenset(spec.working_days)
        self._country, self._subdivision = spec.country, spec.subdivision
        self._holiday_years: dict[int, frozenset[date]] = {}
        self._day = functools.lru_cache(maxsize=_DAY_CACHE_SIZE)(self._build_day)

    @property
    def name(self) -> str:
        return self._name

    @property
    def timezone(self) -> ZoneInfo:
        return self._tz

    @property
    def always_open(self) -> bool:
        return self._always_open

    def __repr__(self) -> str:
        return f"BusinessCalendar({self._name!r}, {self._tz.key})"

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The earliest instant by which `amount` of business time has passed since `start`."""
        cursor = _as_utc(start, "start")
        if amount < _ZERO:
            raise ValueError(f"cannot add a negative business time ({amount})")
        if amount == _ZERO or self._always_open:
            return cursor + amount
        remaining, day, closed_run = amount, self._local_date(cursor), 0
        while True:
            intervals, total = self._day(day)
            if not intervals:
                closed_run += 1
                if closed_run > NEVER_OPEN_DAYS:
                    raise ValueError(
                        f"calendar {self._name} is never open in the {NEVER_OPEN_DAYS} days "
                        f"after {start.isoformat()}"
                    )
            elif intervals[0][0] >= cursor and total < remaining:
                closed_run, remaining, cursor = 0, remaining - total, intervals[-1][1]
            else:
                closed_run = 0
                for open_at, close_at in intervals:
                    if close_at <= cursor:
                        continue
                    cursor = max(cursor, open_at)
                    available = close_at - cursor
                    if remaining <= available:
                        return cursor + remaining
                    remaining, cursor = remaining - available, close_at
            day += _ONE_DAY

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time between two instants."""
        low, high = _as_utc(start, "start"), _as_utc(end, "end")
        if high < low:
            raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
        if self._always_open:
            return high - low
        total = _ZERO
        for day in self._dates(low, high):
            intervals, day_total = self._day(day)
            if not intervals:
                continue
            if intervals[0][0] >= low and intervals[-1][1] <= high:
                total += day_total
                continue
            for open_at, close_at in intervals:
                overlap = min(close_at, high) - max(open_at, low)
                if overlap > _ZERO:
                    total += overlap
        return total

    def is_open(self, instant: datetime) -> bool:
        """Whether business time runs at `instant`: an interval holds its start, not its end."""
        moment = _as_utc(instant, "instant")
        intervals = self._day(self._local_date(moment)).intervals
        return any(open_at <= moment < close_at for open_at, close_at in intervals)

    def open_intervals(self, day: date) -> list[Interval]:
        """The open intervals of one local date, in UTC, sorted and merged."""
        return list(self._day(day).intervals)

    def _local_date(self, instant: datetime) -> date:
        return instant.astimezone(self._tz).date()

    def _dates(self, low: datetime, high: datetime) -> Iterator[date]:
        day, last = self._local_date(low), self._local_date(high)
        while day <= last:
            yield day
            day += _ONE_DAY

    def _holidays_in(self, year: int) -> frozenset[date]:
        found = self._holiday_years.get(year)
        if found is None:
            found = frozenset()
            if self._country is not None:
                found = frozenset(
                    holiday_data.country_holidays(
                        self._country, subdiv=self._subdivision, years=year
                    )
                )
            self._holiday_years[year] = found
        return found

    def _hours_on(self, day: date) -> tuple[tuple[int, int], ...]:
        half_day = self._half_days.get(day)
        if half_day is not None:
            return half_day
        if day not in self._working_days and (
            day in self._extra_holidays or day in self._holidays_in(day.year)
        ):
            return ()
        return self._week[day.weekday()]

    def _instant(self, day: date, minute: int) -> datetime:
        if minute == _MINUTES_PER_DAY:
            day, minute = day + _ONE_DAY, 0
        wall = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=self._tz)
        return wall.astimezone(UTC)

    def _build_day(self, day: date) -> _Day:
        # Clipping to the date's real span keeps dates disjoint and ordered even where a
        # DST change happens at midnight, which lets add() and elapsed() walk date by date.
        day_start, day_end = self._instant(day, 0), self._instant(day, _MINUTES_PER_DAY)
        if self._always_open:
            return _Day(((day_start, day_end),), day_end - day_start)
        spans = sorted(
            (max(day_start, self._instant(day, start)), min(day_end, self._instant(day, end)))
            for start, end in self._hours_on(day)
        )
        merged: list[Interval] = []
        for open_at, close_at in spans:
            if close_at <= open_at:
                continue
            if merged and open_at <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], close_at))
            else:
                merged.append((open_at, close_at))
        return _Day(tuple(merged), sum((close - open_ for open_, close in merged), _ZERO))


class Calendars(BaseModel):
    """config/calendars.yaml: the calendars, which team uses which, and the default one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: str
    teams: dict[str, str] = Field(default_factory=dict)
    calendars: dict[str, CalendarSpec]
    _built: dict[str, BusinessCalendar] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _references_resolve(self) -> Calendars:
        known = sorted(self.calendars)
        if self.default not in self.calendars:
            raise ValueError(f"default calendar {self.default!r} is not defined; known: {known}")
        for team, name in self.teams.items():
            if name not in self.calendars:
                raise ValueError(
                    f"team {team!r} uses calendar {name!r}, not defined; known: {known}"
                )
        for name, spec in self.calendars.items():
            if not (spec.always_open or any(spec.week.values()) or spec.half_days):
                raise ValueError(f"calendar {name!r} is never open: give it a week or always_open")
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._built.update({name: BusinessCalendar(name, s) for name, s in self.calendars.items()})

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.calendars)

    def get(self, name: str) -> BusinessCalendar:
        try:
            return self._built[name]
        except KeyError:
            raise KeyError(f"no calendar named {name!r}; known: {sorted(self._built)}") from None

    def for_team(self, team: str | None) -> BusinessCalendar:
        """The team's calendar, or the default one for a team without its own (or no team)."""
        return self.get(self.teams.get(team, self.default) if team else self.default)


def load_calendars(config_dir: Path) -> Calendars:
    """Read and validate `config_dir/calendars.yaml`; raises ConfigError naming the problem."""
    return load_yaml(config_dir / "calendars.yaml", Calendars)
