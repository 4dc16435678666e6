"""The knowledge base's subscribers, on the consumer kit: new tickets and resolution notes, and
routed tickets (shared groups, a batch at a time), erased customers, and this replica's index
kept in step with article changes (a group of its own). The use cases are `KbService`'s."""

from __future__ import annotations

from typing import Any, cast

from services.kb.service import KbService
from shared.consuming import Batch, ConsumerKit, Delivery
from shared.events import (
    CustomerEvent,
    KbArticleChanged,
    RoutingEvent,
    TicketEvent,
    TicketRouted,
)


def register(kit: ConsumerKit, kb: KbService) -> None:
    topics = kit.settings.topics

    # Guarded: a repeated ticket would count its suggestions (and offers) twice.
    @kit.subscriber(
        topics.tickets,
        name="kb.on_ticket",
        events=TicketEvent,
        accepts=frozenset({"ticket.opened", "ticket.status_changed"}),
        guard="kb",
        description="Suggests articles for each new ticket, and offers self-help once its "
        "category is known too; drafts an article from each resolution note.",
    )
    async def on_ticket(batch: Batch[TicketEvent]) -> None:
        await kb.ticket_events(batch)

    # Guarded: a repeated routing would count the articles offered twice.
    @kit.subscriber(
        topics.routing,
        name="kb.on_routing",
        events=RoutingEvent,
        accepts=frozenset({"ticket.routed"}),
        group="routing",
        guard="kb",
        description="Offers self-help to customers of tickets in the configured categories, "
        "once their suggestions are known too.",
    )
    async def on_routing(batch: Batch[RoutingEvent]) -> None:
        await kb.routed(batch, cast(list[Delivery[TicketRouted]], batch.deliveries))

    # Only `customer.erased`: the knowledge base keeps no customer ids (its tickets, searches
    # and articles name none), so `customer.merged` has nothing here to move.
    # No guard: erasing deletes or blanks what the event names, so a second time changes
    # nothing.
    @kit.subscriber(
        topics.customers,
        name="kb.on_customer",
        events=CustomerEvent,
        accepts=frozenset({"customer.erased"}),
        group="customers",
        description="Erases what the knowledge base keeps of a customer: its notes of their "
        "tickets, their searches, and the drafts made from their tickets.",
    )
    async def on_customer(batch: Batch[Any]) -> None:
        for delivery in batch:
            with batch.isolate(delivery):
                await kb.erase(delivery.event)

    # No guard: the index takes an article only when its version is newer than the one it
    # holds, so a repeated change changes nothing.
    @kit.subscriber(
        topics.kb,
        name="kb.on_article_changed",
        events=KbArticleChanged,
        accepts=frozenset({"kb.article_changed"}),
        group="index",
        per_replica=True,
        description="Every replica re-reads each changed article and updates its own index.",
    )
    async def on_article_changed(batch: Batch[Any]) -> None:
        await kb.refresh_index(batch)
