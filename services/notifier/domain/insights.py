"""Notices of the insights service's events: a sign of poor service becomes a coaching notice
for its team's lead, a monthly category report a notice for the manager it names."""

from __future__ import annotations

from services.notifier.domain.notices import Notice, ReportFacts, SignalFacts
from shared.directory import Directory
from shared.events import Event, MonthlyReportReady, SignalRaised
from shared.ids import ticket_reference

#: The insights events the notifier tells people of.
INSIGHT_TYPES = frozenset({"signal.raised", "report.monthly_ready"})


def _ticket_of(event: SignalRaised, directory: Directory) -> str | None:
    """The ticket a sign is about, if any: its `subject` is a ticket id or an agent id."""
    if event.ticket_id is not None:
        return event.ticket_id
    if event.subject == event.agent_id or directory.agent(event.subject) is not None:
        return None
    return event.subject


def signal_notice(event: SignalRaised, directory: Directory) -> Notice:
    """The coaching notice of a sign; the ladder step names who hears of it (the team's lead).

    Without a team, the agent's team (in the directory) is the one whose lead is told.
    """
    ticket_id = _ticket_of(event, directory)
    agent = directory.agent(event.agent_id) if event.agent_id else None
    team = event.team
    if team is None and event.agent_id:
        found = directory.team_of(event.agent_id)
        team = found.name if found else None
    return Notice(
        kind="signal",
        event_id=str(event.event_id),
        event_type=event.event_type,
        correlation_id=event.correlation_id or str(event.event_id),
        occurred_at=event.occurred_at,
        ticket_id=ticket_id,
        reference=event.reference or (ticket_reference(ticket_id) if ticket_id else None),
        team=team,
        assignee_id=event.agent_id,
        signal=SignalFacts(
            kind=event.kind,
            agent_id=event.agent_id,
            agent_name=agent.name if agent else None,
            value=event.value,
            threshold=event.threshold,
            detail=event.detail,
        ),
    )


def report_notice(event: MonthlyReportReady) -> Notice:
    """The notice of a monthly report, for the manager it names."""
    return Notice(
        kind="monthly_report",
        event_id=str(event.event_id),
        event_type=event.event_type,
        correlation_id=event.correlation_id or str(event.event_id),
        occurred_at=event.occurred_at,
        ticket_id=None,
        reference=None,
        addressee_id=event.manager_id,
        report=ReportFacts(
            month=event.month,
            teams=tuple(event.teams),
            tickets=event.tickets,
            previous_tickets=event.previous_tickets,
            lines=tuple(event.lines),
            link=event.link,
        ),
    )


def insight_notice(event: Event, directory: Directory) -> Notice:
    """The notice of a sign or a report; any other event is nobody's business here."""
    if isinstance(event, SignalRaised):
        return signal_notice(event, directory)
    if isinstance(event, MonthlyReportReady):
        return report_notice(event)
    raise ValueError(f"nobody is told about {event.event_type}")
