"""What the router does with each input: route new tickets, free and refill capacity, escalate,
transfer, and take a ticket from an assignee who never touched it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.router.desk import Cause, Desk, TicketChanged
from services.router.domain.categories import CategoryTree
from services.router.domain.tiers import next_tier
from services.router.domain.triage import TriageRules
from services.router.domain.vocabulary import TIERS, Tier
from services.router.store import RoutingStore
from services.router.triaging import Scores, customer_after, routed_event, triage
from shared.events import (
    AgentPresenceChanged,
    Event,
    SlaWarning,
    TicketAgentReplied,
    TicketEscalated,
    TicketEscalationRequested,
    TicketNoteAdded,
    TicketOpened,
    TicketPriorityChanged,
    TicketRouted,
    TicketStatusChanged,
    TicketTransferRequested,
)
from shared.logging import get_logger

log = get_logger(__name__)

RELEASING = frozenset({"resolved", "closed"})


@dataclass
class Flows:
    desk: Desk
    tree: CategoryTree
    scores: Scores
    triage_rules: TriageRules

    @property
    def store(self) -> RoutingStore:
        return self.desk.store

    async def opened(self, event: TicketOpened) -> None:
        """Route a new ticket once, then give it to an agent or its team's queue."""
        stored = await self.store.ticket(event.ticket_id)
        if stored is None:
            customer = await self.store.customer(event.customer_id)
            decided = triage(
                event,
                customer,
                tree=self.tree,
                scores=self.scores,
                triage_rules=self.triage_rules,
                rules=self.desk.rules,
                directory=self.desk.directory,
            )
            # The decision is stored before it is announced: a redelivery announces the
            # stored one, not a new decision from a customer record this ticket has changed.
            routed = routed_event(event, decided)
            stored = await self.store.create_ticket(
                decided.ticket.model_copy(update={"routed_event": routed.model_dump(mode="json")})
            )
            await self.store.save_customer(
                event.customer_id, customer_after(customer, stored[0], decided.wording)
            )
        ticket, revision = stored
        if ticket.routed_event is not None:
            await self.desk.publish(TicketRouted.model_validate(ticket.routed_event))
        if ticket.state == "queued" and ticket.queued_seq is None:
            await self.desk.place(ticket, revision, Cause.of(event))

    async def status_changed(self, event: TicketStatusChanged) -> None:
        stored = await self.store.ticket(event.ticket_id)
        if stored is None:
            return
        ticket, revision = stored
        if event.status in RELEASING and ticket.state != "closed":
            closed = ticket.model_copy(
                update={
                    "state": "closed",
                    "ack_due_at": None,
                    "history": ticket.noted(f"{event.status}; agent freed"),
                }
            )
            if ticket.agent_id:
                await self.store.release(ticket.agent_id, ticket.ticket_id)
            if not await self.store.save_ticket(closed, revision):
                raise TicketChanged(ticket.ticket_id)  # retried; releasing twice is harmless
            await self.desk.drain(ticket.team, Cause.of(event))
        elif event.status == "reopened" and ticket.state == "closed":
            reopened = ticket.model_copy(update={"state": "queued", "queued_seq": None})
            await self.desk.place(reopened, revision, Cause.of(event))
        elif self._touched(ticket, event.agent_id):
            await self._acknowledge(ticket, revision)

    async def priority_changed(self, event: TicketPriorityChanged) -> None:
        """An agent's new priority reorders the queue the ticket may wait in."""
        stored = await self.store.ticket(event.ticket_id)
        if stored is None or stored[0].priority == event.priority:
            return
        ticket, revision = stored
        changed = ticket.model_copy(
            update={
                "priority": event.priority,
                "history": ticket.noted(
                    f"priority {ticket.priority} to {event.priority} by {event.agent_id}"
                ),
            }
        )
        if self._touched(ticket, event.agent_id):
            changed = changed.model_copy(update={"acknowledged": True, "ack_due_at": None})
        await self.store.save_ticket(changed, revision)

    async def touched(self, event: TicketAgentReplied | TicketNoteAdded) -> None:
        """An assignee acting on their ticket acknowledges it; a reply also remembers who helped."""
        stored = await self.store.ticket(event.ticket_id)
        if stored is None:
            return
        ticket, revision = stored
        if isinstance(event, TicketAgentReplied):
            customer = await self.store.customer(ticket.customer_id)
            await self.store.save_customer(
                ticket.customer_id,
                customer_after(customer, ticket, 0.0, helped_by=event.agent_id),
            )
        if self._touched(ticket, event.agent_id):
            await self._acknowledge(ticket, revision)

    @staticmethod
    def _touched(ticket: Any, agent_id: str | None) -> bool:
        return (
            ticket.state == "assigned"
            and not ticket.acknowledged
            and agent_id is not None
            and agent_id == ticket.agent_id
        )

    async def _acknowledge(self, ticket: Any, revision: int) -> None:
        done = ticket.model_copy(
            update={
                "acknowledged": True,
                "ack_due_at": None,
                "history": ticket.noted(f"acknowledged by {ticket.agent_id}"),
            }
        )
        if not await self.store.save_ticket(done, revision):
            raise TicketChanged(ticket.ticket_id)

    async def escalation_requested(self, event: TicketEscalationRequested) -> None:
        await self.escalate(
            event.ticket_id,
            Cause.of(event),
            event,
            to_tier=event.to_tier,
            trigger="agent_request",
            requested_by=event.agent_id,
            why=event.reason,
        )

    async def sla_warning(self, event: SlaWarning) -> None:
        escalation = self.desk.rules.escalation
        threshold = escalation.at_sla_warning_percent
        if threshold is None or event.level_percent < threshold:
            return
        if event.metric not in escalation.metrics:
            return
        key = f"{event.metric}:{event.cycle}"
        stored = await self.store.ticket(event.ticket_id)
        if stored is None or key in stored[0].escalated_for or stored[0].state == "closed":
            return
        await self.escalate(
            event.ticket_id,
            Cause.of(event),
            event,
            to_tier=None,
            trigger="sla_warning",
            requested_by=None,
            escalated_for=key,
            why=f"{event.metric.replace('_', ' ')} SLA at {event.level_percent}% of its target",
        )

    async def escalate(
        self,
        ticket_id: str,
        cause: Cause,
        event: Event,
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
        team = self.desk.rules.team_for_tier(self.desk.directory, ticket.team, target)
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
        await self.desk.publish(escalated)
        changes: dict[str, Any] = {"tier": target}
        if escalated_for:
            changes["escalated_for"] = (*ticket.escalated_for, escalated_for)
        await self.desk.move(
            ticket,
            revision,
            cause,
            to_team=team,
            changes=changes,
            kind="escalation",
            reason=f"escalated {reason}",
        )
        customer = await self.store.customer(ticket.customer_id)
        await self.store.save_customer(
            ticket.customer_id, customer_after(customer, ticket, 0.0, reached_tier=target)
        )

    async def transfer_requested(self, event: TicketTransferRequested) -> None:
        stored = await self.store.ticket(event.ticket_id)
        if stored is None or stored[0].state == "closed":
            log.warning("transfer.ignored", ticket_id=event.ticket_id, reason="not open here")
            return
        ticket, revision = stored
        if self.desk.directory.team(event.to_team) is None:
            raise ValueError(f"transfer to unknown team {event.to_team!r}")
        tier = ticket.tier
        team = self.desk.directory.team(event.to_team)
        assert team is not None
        if not any(a.tier == tier for a in team.agents):
            # The receiving team works at other tiers: the ticket takes the lowest it has.
            tier = min((a.tier for a in team.agents), key=TIERS.index)
        await self.desk.move(
            ticket,
            revision,
            Cause.of(event),
            to_team=event.to_team,
            changes={"tier": tier},
            kind="agent_request",
            preferred=event.to_agent_id,
            reason=f"{event.agent_id} passed it to {event.to_team}: {event.reason}",
        )

    async def presence_changed(self, event: AgentPresenceChanged) -> None:
        team = self.desk.directory.team_of(event.agent_id)
        if team is None:
            raise ValueError(f"presence of unknown agent {event.agent_id!r}")
        changed = await self.store.set_presence(event.agent_id, event.presence, event.occurred_at)
        log.info("agent.presence", agent_id=event.agent_id, presence=event.presence)
        if changed and event.presence == "online":
            await self.desk.drain(team.name, Cause.of(event))

    async def acknowledgement_missed(self, ticket_id: str) -> None:
        """The assignee did not touch the ticket in time: the next qualified agent gets it."""
        stored = await self.store.ticket(ticket_id)
        now = self.desk.clock.now()
        if stored is None:
            return
        ticket, revision = stored
        if ticket.state != "assigned" or ticket.acknowledged or ticket.ack_due_at is None:
            return
        if ticket.ack_due_at > now:
            return
        late = ticket.agent_id
        cause = Cause(f"ack-missed:{ticket_id}:{ticket.transfer_count}:{late}")
        await self.desk.move(
            ticket,
            revision,
            cause,
            to_team=ticket.team,
            changes={"excluded": (*ticket.excluded, late)},
            kind="acknowledgement_timeout",
            reason=f"{late} did not acknowledge it within "
            f"{self.desk.rules.assignment.acknowledge_within_seconds:g} s",
        )
