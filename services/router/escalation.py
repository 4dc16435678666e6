"""Moving a ticket on: escalation a tier up (on an agent's request or an SLA warning), transfer
to another team or agent, and taking it from an assignee who never acknowledged it."""

from __future__ import annotations

from typing import Any

from services.router.config import RouterConfig
from services.router.decisions import Cause
from services.router.dispatch import Dispatcher
from services.router.domain.tiers import next_tier
from services.router.domain.vocabulary import TIERS, Tier
from services.router.seating import Outbox
from services.router.store import RoutingStore
from services.router.triaging import customer_after
from shared.clock import Clock
from shared.events import TicketEscalated, TicketTransferRequested
from shared.logging import get_logger
from shared.metrics import ROUTING_DECISIONS

log = get_logger(__name__)


class Escalations:
    """The moves of a ticket another input or the router's own clock asks for."""

    def __init__(
        self, config: RouterConfig, store: RoutingStore, dispatcher: Dispatcher, clock: Clock
    ) -> None:
        self.config = config
        self.store = store
        self.dispatcher = dispatcher
        self.clock = clock

    async def escalate(
        self,
        ticket_id: str,
        cause: Cause,
        outbox: Outbox,
        *,
        to_tier: Tier | None,
        trigger: str,
        requested_by: str | None,
        why: str,
        escalated_for: str | None = None,
    ) -> None:
        stored = await self.store.ticket(ticket_id)
        if stored is None or stored[0].state == "closed":
            log.warning("escalation.ignored", ticket_id=ticket_id, reason="not open here")
            return
        ticket, revision = stored
        target = to_tier or next_tier(ticket.tier)
        if target is None or TIERS.index(target) <= TIERS.index(ticket.tier):
            log.info("escalation.ignored", ticket_id=ticket_id, tier=ticket.tier, asked=target)
            return
        rules, directory = self.config.rules, self.config.directory
        team = rules.team_for_tier(directory, ticket.team, target)
        reason = f"{ticket.tier} to {target}: {why}"
        escalated = cause.build(
            TicketEscalated,
            f"escalated:{ticket_id}:{target}",
            ticket_id=ticket_id,
            from_tier=ticket.tier,
            to_tier=target,
            trigger=trigger,
            requested_by=requested_by,
            reason=reason,
        )
        await outbox.send([escalated])
        changes: dict[str, Any] = {"tier": target}
        if escalated_for:
            changes["escalated_for"] = (*ticket.escalated_for, escalated_for)
        await self.dispatcher.move(
            ticket,
            revision,
            cause,
            outbox,
            to_team=team,
            changes=changes,
            kind="escalation",
            reason=f"escalated {reason}",
        )
        ROUTING_DECISIONS.labels("escalated").inc()
        customer = await self.store.customer(ticket.customer_id)
        reached = customer_after(customer, ticket, ticket.wording, reached_tier=target)
        await self.store.save_customers({ticket.customer_id: reached})

    async def transfer_requested(self, event: TicketTransferRequested, outbox: Outbox) -> None:
        stored = await self.store.ticket(event.ticket_id)
        if stored is None or stored[0].state == "closed":
            log.warning("transfer.ignored", ticket_id=event.ticket_id, reason="not open here")
            return
        ticket, revision = stored
        team = self.config.directory.team(event.to_team)
        if team is None:
            raise ValueError(f"transfer to unknown team {event.to_team!r}")
        tier = ticket.tier
        if not any(a.tier == tier for a in team.agents):
            # The receiving team works at other tiers: the ticket takes the lowest it has.
            tier = min((a.tier for a in team.agents), key=TIERS.index)
        await self.dispatcher.move(
            ticket,
            revision,
            Cause.of(event),
            outbox,
            to_team=event.to_team,
            changes={"tier": tier},
            kind="agent_request",
            preferred=event.to_agent_id,
            reason=f"{event.agent_id} passed it to {event.to_team}: {event.reason}",
        )

    async def acknowledgement_missed(self, ticket_id: str, outbox: Outbox) -> None:
        """The assignee did not touch the ticket in time: the next qualified agent gets it."""
        stored = await self.store.ticket(ticket_id)
        now = self.clock.now()
        if stored is None:
            return
        ticket, revision = stored
        if ticket.state != "assigned" or ticket.acknowledged or ticket.ack_due_at is None:
            return
        if ticket.ack_due_at > now:
            return
        late = ticket.agent_id
        cause = Cause(f"ack-missed:{ticket_id}:{ticket.transfer_count}:{late}")
        await self.dispatcher.move(
            ticket,
            revision,
            cause,
            outbox,
            to_team=ticket.team,
            changes={"excluded": (*ticket.excluded, late)},
            kind="acknowledgement_timeout",
            reason=f"{late} did not acknowledge it within "
            f"{self.config.rules.assignment.acknowledge_within_seconds:g} s",
        )
