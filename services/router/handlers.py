"""The router's subscriber: route and assign each new ticket, free the agent when it is resolved."""

from __future__ import annotations

from dataclasses import dataclass

from faststream.kafka import KafkaBroker

from services.router.domain import (
    RoutingRules,
    assignment_reason,
    choose_agent,
    classify,
    priority_for,
)
from services.router.settings import RouterSettings
from services.router.store import RoutingStore
from shared.broker import PermanentError, consumer_options, publish_event
from shared.directory import Directory
from shared.events import (
    TicketAssigned,
    TicketEvent,
    TicketOpened,
    TicketRouted,
    TicketStatusChanged,
)
from shared.idempotency import ProcessedEvents
from shared.logging import get_logger

log = get_logger(__name__)

TIER_FOR_NEW_TICKETS = "L1"
RELEASING_STATUSES = frozenset({"resolved", "closed"})


@dataclass
class RouterState:
    """What the handlers work with: the validated rules, the directory and the stores."""

    rules: RoutingRules
    directory: Directory
    store: RoutingStore
    processed: ProcessedEvents


def register(broker: KafkaBroker, settings: RouterSettings, state: RouterState) -> None:
    # Declared for the AsyncAPI document; as decorators they would publish the return value.
    broker.publisher(settings.topics.routing, title="ticket.routed", schema=TicketRouted)
    broker.publisher(settings.topics.routing, title="ticket.assigned", schema=TicketAssigned)

    @broker.subscriber(
        settings.topics.tickets,
        title="router.on_ticket",
        description="Routes and assigns new tickets; frees agents when tickets are resolved.",
        **consumer_options(settings),
    )
    async def on_ticket(event: TicketEvent) -> None:
        if isinstance(event, TicketOpened):
            await _route(broker, settings, state, event)
        elif isinstance(event, TicketStatusChanged) and event.status in RELEASING_STATUSES:
            await _release(state, event)


async def _route(
    broker: KafkaBroker, settings: RouterSettings, state: RouterState, event: TicketOpened
) -> None:
    if await state.processed.seen("route", event.event_id):
        return
    classification = classify(event.subject, event.body, state.rules)
    category = classification.category
    priority = priority_for(category.impact, category.urgency, state.rules.priority_matrix)
    routed = event.caused(
        TicketRouted,
        "ticket.routed",
        category=category.name,
        subcategory=category.subcategory,
        impact=category.impact,
        urgency=category.urgency,
        priority=priority,
        tier=TIER_FOR_NEW_TICKETS,
        team=category.team,
        customer_plan=event.customer_plan,
        reason=classification.reason,
    )
    await publish_event(broker, settings.topics.routing, routed)
    log.info("ticket.routed", category=category.name, priority=priority, team=category.team)

    team = state.directory.team(category.team)
    if team is None:  # check_teams at start makes this unreachable unless the config is bypassed
        raise PermanentError(f"team {category.team!r} is not in the directory")
    assignment = await state.store.assignment(event.ticket_id)
    if assignment is None:
        loads = await state.store.loads(a.person_id for a in team.agents)
        agent = choose_agent(team, loads)
        if agent is None:
            log.warning("ticket.unassigned", team=team.name, reason="every agent at capacity")
            await state.processed.mark("route", event.event_id)
            return
        # A concurrent or earlier delivery may have won the insert; its agent is the one kept.
        assignment = await state.store.record_assignment(
            event.ticket_id, agent.person_id, team.name, assignment_reason(team, agent, loads)
        )
    assigned = event.caused(
        TicketAssigned,
        "ticket.assigned",
        agent_id=assignment.agent_id,
        team=assignment.team,
        reason=assignment.reason,
    )
    await publish_event(broker, settings.topics.routing, assigned)
    await state.processed.mark("route", event.event_id)
    log.info("ticket.assigned", agent_id=assignment.agent_id, team=assignment.team)


async def _release(state: RouterState, event: TicketStatusChanged) -> None:
    if await state.processed.seen("release", event.event_id):
        return
    released = await state.store.release(event.ticket_id)
    await state.processed.mark("release", event.event_id)
    if released is not None:
        log.info("agent.released", agent_id=released.agent_id, status=event.status)
