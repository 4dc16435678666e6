"""The right to erasure in the knowledge base: on `customer.erased`, what it noted of the
person's tickets, their searches and the drafts made from their tickets go. Part of
`KbService` (`service.py`), split off by role."""

from __future__ import annotations

from dataclasses import dataclass

from services.kb.domain.erasure import drafted, search_patterns
from services.kb.store import KbStore
from shared.events import CustomerErased
from shared.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Erased:
    """What one erasure changed among the articles (the rest is deleted without a count)."""

    drafts_deleted: tuple[str, ...]
    articles_unlinked: tuple[str, ...]


class ErasureCases:
    """Erasing a customer; `KbService` holds the store. The knowledge base keeps no customer
    ids, only tickets and free text, so it erases by `ticket_ids` and `identities`."""

    store: KbStore

    async def erase(self, event: CustomerErased) -> Erased:
        """Erase what the knowledge base keeps of the person. Every step deletes or blanks by
        what the event names, so erasing twice changes nothing, and a crash part-way is
        finished by the event's redelivery.

        - the ticket records (reference, subject, language, suggestions, offer) of their tickets;
        - their tickets' deflections keep only the article that solved them, and when;
        - every logged search whose query contains an address, phone number, name or chat id
          of theirs;
        - drafts made from their tickets go with their versions; an article an editor published
          (or archived) from one keeps its text but loses the link to the ticket, and the
          version the knowledge base drafted from it.
        """
        tickets = list(dict.fromkeys(event.ticket_ids))
        articles = drafted(await self.store.articles_from(tickets))
        await self.store.delete_articles(articles.delete)
        await self.store.unlink_articles(articles.unlink)
        await self.store.forget_tickets(tickets)
        await self.store.forget_deflections(tickets)
        await self.store.forget_searches(search_patterns(event.identities))
        log.info(
            "kb.customer_erased",
            customer_id=event.customer_id,
            tickets=len(tickets),
            drafts_deleted=len(articles.delete),
            articles_unlinked=len(articles.unlink),
        )
        return Erased(articles.delete, articles.unlink)
