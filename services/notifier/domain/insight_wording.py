"""How a coaching notice (a sign of poor service) and a monthly category report read, in the
reader's language; the layout is the templates', as for every other notice."""

from __future__ import annotations

import re

from services.notifier.domain.notices import (
    SIGNAL_UNITS,
    TOP_SCORE,
    Notice,
    ReportFacts,
    SignalFacts,
)
from services.notifier.domain.wording import Block, TreeRow, Words, header_text

_MONTH = re.compile(r"(\d{4})-(\d{2})")


def _measure(kind: str, value: float, words: Words) -> str:
    """A sign's value or threshold in its unit: `45 min`, `Transfers: 4`, `2 of 5`."""
    unit = SIGNAL_UNITS.get(kind)
    if unit == "duration":
        return words.duration(value)
    if unit == "transfers":
        return words("value_transfers", count=words.amount(value))
    if unit == "score":
        return words("value_score", score=words.amount(value), top=words.number(TOP_SCORE))
    return words.amount(value)


def signal_block(notice: Notice, signal: SignalFacts, words: Words) -> Block:
    """A coaching notice: which sign, on which ticket or agent, measured against what."""
    name = words(f"signal_{signal.kind}")
    agent = signal.agent_name or signal.agent_id
    if signal.agent_name and signal.agent_id:
        agent = f"{signal.agent_name} ({signal.agent_id})"
    ticket = notice.reference
    if notice.reference and notice.ticket_id:
        ticket = f"{notice.reference} ({notice.ticket_id})"
    title = words("subject_signal", signal=name)
    if notice.reference:
        title = f"[{notice.reference}] {title}"
    elif signal.agent_name or signal.agent_id:
        title += f" — {signal.agent_name or signal.agent_id}"
    facts: list[tuple[str, str | None]] = [
        ("label_signal", name),
        ("label_ticket", ticket),
        ("label_agent", agent),
        ("label_team", notice.team),
        (
            "label_measured",
            None if signal.value is None else _measure(signal.kind, signal.value, words),
        ),
        (
            "label_threshold",
            None if signal.threshold is None else _measure(signal.kind, signal.threshold, words),
        ),
        ("label_detail", signal.detail or None),
    ]
    ask = "ask_coach_agent" if agent else "ask_coach_team"
    return Block(
        title=header_text(title),
        intro=words("intro_signal", signal=name),
        facts=[(words(label), value) for label, value in facts if value],
        asks=[words(ask)],
        link_text=None,
        link_url=None,
    )


def month_name(month: str, words: Words) -> str:
    """`2026-01` as `January 2026` in the reader's language; anything else as written."""
    found = _MONTH.fullmatch(month)
    names = [name.strip() for name in words("months").split(",")]
    if found is None or not 1 <= int(found[2]) <= len(names):
        return month
    return words("month_year", month=names[int(found[2]) - 1], year=words.number(int(found[1])))


def _rows(report: ReportFacts, words: Words) -> list[TreeRow]:
    return [
        TreeRow(
            depth=line.path.count("/"),
            name=line.path.rsplit("/", 1)[-1],
            count=words.number(line.count),
            share="–" if line.share is None else words.percent(line.share),
            change=words.signed(line.change),
        )
        for line in report.lines
    ]


def _change(report: ReportFacts, words: Words) -> str:
    change = report.tickets - report.previous_tickets
    text = words.signed(change)
    if report.previous_tickets:
        text += f" ({words.percent(change / report.previous_tickets, signed=True)})"
    return text


def report_block(report: ReportFacts, words: Words) -> Block:
    """A monthly report: the month's total against the month before, then the category tree
    (indented by depth), and the link to the full report when there is one."""
    month = month_name(report.month, words)
    facts = [
        ("label_month", month),
        ("label_teams", ", ".join(report.teams)),
        ("label_tickets", words.number(report.tickets)),
        ("label_previous_month", words.number(report.previous_tickets)),
        ("label_change", _change(report, words)),
    ]
    rows = _rows(report, words)
    # Only a web page is linked: anything else in the event is not followed from a mail.
    link = report.link if report.link and report.link.startswith(("https://", "http://")) else None
    subject = words("subject_monthly_report", month=month, tickets=words.number(report.tickets))
    return Block(
        title=header_text(subject),
        intro=words("intro_monthly_report", month=month),
        facts=[(words(label), value) for label, value in facts if value],
        asks=[] if rows else [words("report_no_lines")],
        link_text=words("report_link") if link else None,
        link_url=link,
        rows_heading=words("report_categories") if rows else None,
        rows=rows,
    )
