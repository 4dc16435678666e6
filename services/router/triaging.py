"""A new ticket's routing: category, priority, technical level, starting tier and team, from
its text, the customer's plan and what the router remembers of the customer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from services.router.domain.categories import CategoryTree, Classification, classify
from services.router.domain.priority import PriorityDecision, decide_priority
from services.router.domain.rules import RoutingRules
from services.router.domain.tickets import RoutedTicket
from services.router.domain.tiers import (
    CustomerHistory,
    combined,
    reached,
    remember,
    starting_tier,
    technical_level,
    wording_score,
)
from services.router.domain.triage import TriageRules
from services.router.domain.vocabulary import Tier
from shared.directory import Directory
from shared.events import TicketOpened, TicketRouted
from shared.mongo import Document

Scores = Callable[[str], Mapping[str, float]]
#: Agents the customer's record remembers, most recent first.
PREVIOUS_AGENTS_KEPT = 5


def history_of(record: Document | None) -> CustomerHistory:
    saved = (record or {}).get("history") or {}
    return CustomerHistory(**saved)


@dataclass(frozen=True)
class Triage:
    """Everything decided about a new ticket before it meets an agent."""

    ticket: RoutedTicket
    classification: Classification
    priority: PriorityDecision
    technical_level: str
    wording: float
    reason: str


def triage(
    event: TicketOpened,
    customer: Document | None,
    *,
    tree: CategoryTree,
    scores: Scores,
    triage_rules: TriageRules,
    rules: RoutingRules,
    directory: Directory,
) -> Triage:
    text = f"{event.subject}\n{event.body}".strip()
    history = history_of(customer)
    classification = classify(text, event.language, tree, scores(text))
    priority = decide_priority(
        text,
        event.language,
        base_impact=classification.impact,
        base_urgency=classification.urgency,
        plan=event.customer_plan,
        first_time=history.tickets == 0,
        rules=triage_rules.priority,
    )
    wording, _cues = wording_score(text, event.language, triage_rules.tiers)
    level, level_reason = technical_level(wording, history, triage_rules.tiers)
    tier, tier_reason = starting_tier(classification.difficulty, level, triage_rules.tiers)
    team = rules.team_for_tier(directory, classification.team, tier)
    moved = (
        f"; {classification.team} has nobody at {tier}, so {team}"
        if team != (classification.team)
        else ""
    )
    reason = (
        f"{classification.reason}; priority {priority.priority}: {priority.reason}; "
        f"{level_reason}; {tier_reason}{moved}"
    )
    ticket = RoutedTicket(
        ticket_id=event.ticket_id,
        customer_id=event.customer_id,
        channel=event.channel,
        language=event.language,
        category=classification.category or "uncategorised",
        subcategory=classification.subcategory,
        skill=classification.skill,
        difficulty=classification.difficulty,
        priority=priority.priority,
        tier=tier,
        team=team,
        wording=wording,
        history=(f"routed: {reason}",),
    )
    return Triage(ticket, classification, priority, level, wording, reason)


def routed_event(event: TicketOpened, decided: Triage) -> TicketRouted:
    ticket, classification = decided.ticket, decided.classification
    return event.caused(
        TicketRouted,
        "ticket.routed",
        category=ticket.category,
        subcategory=ticket.subcategory,
        item=classification.item,
        confidence=round(classification.confidence, 4),
        skill=ticket.skill,
        difficulty=ticket.difficulty,
        technical_level=decided.technical_level,
        language=ticket.language,
        channel=ticket.channel,
        impact=decided.priority.impact,
        urgency=decided.priority.urgency,
        priority=ticket.priority,
        tier=ticket.tier,
        team=ticket.team,
        customer_plan=event.customer_plan,
        reason=decided.reason,
    )


def customer_after(
    record: Document | None,
    ticket: RoutedTicket,
    wording: float,
    *,
    helped_by: str | None = None,
    reached_tier: Tier | None = None,
) -> Document:
    """The customer's record once this ticket is counted (once), its helper remembered and the
    tier it reached kept."""
    record = dict(record or {})
    tickets = list(record.get("tickets", ()))
    history = history_of(record)
    if ticket.ticket_id not in tickets:
        tickets.append(ticket.ticket_id)
        history = remember(history, wording, ticket.tier)
    if reached_tier is not None:
        history = reached(history, reached_tier)
    agents = list(record.get("agents", ()))
    if helped_by is not None:
        agents = [helped_by, *[a for a in agents if a != helped_by]][:PREVIOUS_AGENTS_KEPT]
    return {
        "tickets": tickets[-200:],
        "history": {
            "tickets": history.tickets,
            "technical_score": history.technical_score,
            "highest_tier": history.highest_tier,
        },
        "agents": agents,
    }


def customers_merged(survivor: Document | None, merged: Document | None) -> Document:
    """The surviving record once the merged one is folded in: its tickets counted, its helpers
    remembered after the survivor's own, the highest tier either reached."""
    survivor, merged = dict(survivor or {}), dict(merged or {})
    tickets = list(dict.fromkeys([*merged.get("tickets", ()), *survivor.get("tickets", ())]))
    history = combined(history_of(survivor), history_of(merged))
    agents = list(dict.fromkeys([*survivor.get("agents", ()), *merged.get("agents", ())]))
    return {
        **survivor,
        "tickets": tickets[-200:],
        "history": {
            "tickets": history.tickets,
            "technical_score": history.technical_score,
            "highest_tier": history.highest_tier,
        },
        "agents": agents[:PREVIOUS_AGENTS_KEPT],
        "merged": sorted({*survivor.get("merged", ()), merged.get("_id", "")} - {""}),
    }
