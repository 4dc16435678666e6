"""New tickets a batch at a time: read in a few bulk reads, triaged and given agents in memory in
order, slots claimed together, decisions published together, tickets and customers saved in bulk."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from services.router.decisions import Cause
from services.router.domain.slots import NEW
from services.router.seating import Plan, Seat
from services.router.triaging import customer_after, routed_event, triage
from shared.consuming import Batch, Delivery
from shared.events import TicketOpened, TicketRouted
from shared.mongo import Document

if TYPE_CHECKING:
    from services.router.service import RouterService


@dataclass
class Opening:
    """One `ticket.opened` of the batch: what is announced and, if it needs one, its seat."""

    delivery: Delivery[Any]
    routed: TicketRouted | None
    seat: Seat | None = None
    plan: Plan | None = None


def _text(event: TicketOpened) -> str:
    return f"{event.subject}\n{event.body}".strip()


async def open_tickets(
    service: RouterService, batch: Batch[Any], deliveries: Sequence[Delivery[Any]]
) -> None:
    """Route the batch's `ticket.opened` records (`deliveries`)."""
    store = service.store
    events: list[TicketOpened] = [d.event for d in deliveries]
    stored = await store.tickets(e.ticket_id for e in events)
    customers: dict[str, Document] = await store.customers(e.customer_id for e in events)
    new = list({e.ticket_id: e for e in reversed(events) if e.ticket_id not in stored}.values())
    rows = service.score_many([_text(e) for e in new]) if new else []
    scored = {e.event_id: row for e, row in zip(new, rows, strict=True)}
    changed: dict[str, Document] = {}  # customers' records as this batch leaves them
    openings: list[Opening] = []
    seen: set[str] = set()
    for delivery in deliveries:
        event = delivery.event
        with batch.isolate(delivery):
            if event.ticket_id in seen:
                continue  # opened twice in one batch: the first decides
            seen.add(event.ticket_id)
            openings.append(_decide(service, event, delivery, stored, customers, changed, scored))
    openings = [o for o in openings if not _failed(batch, o)]
    seats = [o for o in openings if o.seat is not None]
    teams = sorted(
        {o.seat.ticket.team for o in seats if o.seat} | {t.team for t, _ in stored.values()}
    )
    known = {o.delivery.event.ticket_id: stored.get(o.delivery.event.ticket_id) for o in openings}
    dispatcher = service.dispatcher
    async with AsyncExitStack() as locks:
        for team in teams:
            await locks.enter_async_context(dispatcher.team_lock(team))
        roster = await dispatcher.rosters.read(teams, known)
        plans = await dispatcher.seat_all(roster, [o.seat for o in seats if o.seat])
        for opening, plan in zip(seats, plans, strict=True):
            opening.plan = plan
            plan.before = opening.seat.ticket if opening.seat else None
            plan.opened_at = opening.delivery.event.occurred_at
        for opening in openings:
            with batch.isolate(opening.delivery):
                if opening.routed is not None:
                    batch.publish(service.routing, opening.routed)
                for decision in opening.plan.events if opening.plan else ():
                    batch.publish(service.routing, decision)
        # Published before saved: a crash in between decides again with the same ids.
        await batch.flush()
        done = [o.plan for o in seats if o.plan is not None and not _failed(batch, o)]
        dropped = [o.plan for o in seats if o.plan is not None and _failed(batch, o)]
        # A dead-lettered ticket gives back the slots it claimed (not those it took over).
        claimed = [
            c for p in dropped for c in p.changes if c not in roster.pending.get(c.ticket_id, ())
        ]
        if claimed:
            await store.settle_slots([], claimed)
        saved = await dispatcher.commit(done, None, roster) if done else set()
        if not done:
            await dispatcher.tidy(roster)
    # Saved after the tickets: a redelivery re-reads the record this ticket has not changed.
    await store.save_customers(
        {cid: record for cid, record in changed.items() if _keep(record, saved, stored)}
    )


def _failed(batch: Batch[Any], opening: Opening) -> bool:
    return any(d is opening.delivery for d, _ in batch.failed)


def _decide(
    service: RouterService,
    event: TicketOpened,
    delivery: Delivery[Any],
    stored: Mapping[str, tuple[Any, int]],
    customers: dict[str, Document],
    changed: dict[str, Document],
    scored: Mapping[Any, Mapping[str, float]],
) -> Opening:
    config = service.config
    customer = changed.get(event.customer_id, customers.get(event.customer_id))
    found = stored.get(event.ticket_id)
    if found is not None:
        # Decided before: announced again (the same id; consumers drop the repeat), placed if
        # it never was, and counted in the customer's record if a crash came before that.
        ticket, revision = found
        routed = TicketRouted.model_validate(ticket.routed_event) if ticket.routed_event else None
        if ticket.ticket_id not in (customer or {}).get("tickets", ()):
            changed[event.customer_id] = customer_after(customer, ticket, ticket.wording)
        seat = None
        if ticket.state == "queued" and ticket.queued_seq is None:
            seat = Seat(ticket, revision, Cause.of(event), _previous(customer))
        return Opening(delivery, routed, seat)
    row = scored[event.event_id]
    decided = triage(
        event,
        customer,
        tree=config.tree,
        scores=lambda _text: row,
        triage_rules=config.triage,
        rules=config.rules,
        directory=config.directory,
    )
    routed = routed_event(event, decided)
    ticket = decided.ticket.model_copy(update={"routed_event": routed.model_dump(mode="json")})
    changed[event.customer_id] = customer_after(customer, ticket, decided.wording)
    return Opening(delivery, routed, Seat(ticket, NEW, Cause.of(event), _previous(customer)))


def _previous(customer: Document | None) -> tuple[str, ...]:
    return tuple((customer or {}).get("agents", ()))


def _keep(record: Document, saved: set[str], stored: Mapping[str, Any]) -> bool:
    """A customer's new record is written when its tickets were saved here or before."""
    return any(t in saved or t in stored for t in record.get("tickets", ()))
