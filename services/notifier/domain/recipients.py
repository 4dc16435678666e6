"""Who a ladder step's roles are in the directory, and when a message to them may be sent."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from services.notifier.domain.notices import Recipient, Role
from shared.business_calendar import NEVER_OPEN_DAYS, BusinessCalendar, Calendars
from shared.directory import Directory, Person, Team

if TYPE_CHECKING:
    from services.notifier.domain.ladders import NotifierConfig

_ONE_DAY = timedelta(days=1)


def _recipient(person: Person, role: Role) -> Recipient:
    return Recipient(
        person_id=person.person_id,
        name=person.name,
        email=str(person.email),
        language=person.language,
        role=role,
    )


def _team_head(team: Team) -> Recipient:
    """The lead, or the manager of a team without one."""
    if team.lead is not None:
        return _recipient(team.lead, "lead")
    return _recipient(team.manager, "manager")


def _people(
    role: Role,
    team: Team | None,
    team_name: str | None,
    assignee_id: str | None,
    directory: Directory,
    config: NotifierConfig,
) -> list[Recipient]:
    if role == "on_call":
        person = config.on_call.get(team_name or "*") or config.on_call.get("*")
        return [_recipient(person, "on_call")] if person else []
    if role == "assignee":
        agent = directory.agent(assignee_id) if assignee_id else None
        if agent is not None:
            return [_recipient(agent, "assignee")]
    if team is None:
        return []
    if role in ("assignee", "lead"):
        return [_team_head(team)]
    if role == "manager":
        return [_recipient(team.manager, "manager")]
    return [_recipient(agent, "team") for agent in team.agents]


def recipients(
    roles: Iterable[Role],
    *,
    team: str | None,
    assignee_id: str | None,
    directory: Directory,
    config: NotifierConfig,
) -> list[Recipient]:
    """The people behind the roles, in order, each once (with the first role they came by).

    An assignee the directory does not know, or none, falls back to the team's lead, or its
    manager when it has no lead; so does the lead role. Without a team name the assignee's
    team is used. A team the directory does not know has nobody in its roles, but on-call
    still falls back to the `*` default.
    """
    found = directory.team(team) if team else None
    if team is None and assignee_id:
        found = directory.team_of(assignee_id)
    team_name = team or (found.name if found else None)
    chosen: dict[str, Recipient] = {}
    for role in roles:
        for person in _people(role, found, team_name, assignee_id, directory, config):
            chosen.setdefault(person.person_id, person)
    return list(chosen.values())


def addressee(person_id: str, *, directory: Directory) -> Recipient | None:
    """The person an event names as its reader: a team's manager or lead, or an operator
    (who reads service-wide reports as a manager would)."""
    heads: list[tuple[Person, Role]] = [(team.manager, "manager") for team in directory.teams]
    heads += [(team.lead, "lead") for team in directory.teams if team.lead is not None]
    heads += [(operator, "manager") for operator in directory.operators]
    for person, role in heads:
        if person.person_id == person_id:
            return _recipient(person, role)
    return None


def working_calendar(
    person_id: str, *, directory: Directory, calendars: Calendars, config: NotifierConfig
) -> BusinessCalendar | None:
    """The calendar of a person's working hours, or None for someone always reachable.

    Their own entry in the notifier config, else (for an agent) their shift or their team's
    shift calendar, else the config's default calendar.
    """
    hours = config.working_hours
    name = hours.people.get(person_id)
    agent = directory.agent(person_id) if name is None else None
    if agent is not None:
        team = directory.team_of(person_id)
        name = agent.shift or (team.shift_calendar if team else None)
    name = name or hours.default_calendar
    return calendars.get(name) if name else None


def next_opening(calendar: BusinessCalendar, now: datetime) -> datetime:
    """`now` if the calendar is open then, else the next instant it opens."""
    if calendar.always_open or calendar.is_open(now):
        return now
    day = now.astimezone(calendar.timezone).date()
    for _ in range(NEVER_OPEN_DAYS):
        for open_at, close_at in calendar.open_intervals(day):
            if close_at > now:
                return max(open_at, now)
        day += _ONE_DAY
    raise ValueError(f"calendar {calendar.name} never opens after {now.isoformat()}")


def send_after(
    recipient: Recipient,
    *,
    urgent: bool,
    now: datetime,
    directory: Directory,
    calendars: Calendars,
    config: NotifierConfig,
) -> datetime:
    """The earliest instant a message may reach the recipient: at once when urgent, else
    inside their working hours."""
    if urgent:
        return now
    calendar = working_calendar(
        recipient.person_id, directory=directory, calendars=calendars, config=config
    )
    return now if calendar is None else next_opening(calendar, now)
