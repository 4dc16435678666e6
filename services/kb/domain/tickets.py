"""What the knowledge base knows of each ticket: its suggestions (from `ticket.opened`) and its
category (from `ticket.routed`). The two arrive on different subscribers in either order; once
one record holds both, a ticket in a self-help category is offered its best suggestions, once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from services.kb.domain.rules import SelfHelpRules
from shared.events import ArticleMatch


@dataclass(frozen=True)
class Opened:
    """What a new ticket tells the knowledge base: the articles suggested for it."""

    reference: str
    language: str | None
    subject: str
    suggestions: tuple[ArticleMatch, ...]


@dataclass(frozen=True)
class Routed:
    """What routing tells the knowledge base: the ticket's category."""

    category: str
    subcategory: str | None


TicketNote = Opened | Routed


@dataclass(frozen=True)
class OfferClaim:
    """A self-help offer about to be made: the id of its event claims the ticket, so a
    redelivered cause finds its own claim and publishes the same offer again."""

    offer_id: str
    articles: tuple[ArticleMatch, ...]


@dataclass(frozen=True)
class TicketSeen:
    """One ticket as the knowledge base has heard of it; `suggestions` is None until the
    ticket's `ticket.opened` was read, `category` until its `ticket.routed` was."""

    ticket_id: str
    reference: str | None = None
    language: str | None = None
    subject: str | None = None
    suggestions: tuple[ArticleMatch, ...] | None = None
    category: str | None = None
    subcategory: str | None = None
    offered: tuple[ArticleMatch, ...] = ()
    offer_id: str | None = None

    def noted(self, note: TicketNote) -> TicketSeen:
        """The ticket with what one more event tells of it."""
        if isinstance(note, Opened):
            return replace(
                self,
                reference=note.reference,
                language=note.language,
                subject=note.subject,
                suggestions=note.suggestions,
            )
        return replace(self, category=note.category, subcategory=note.subcategory)

    def claimed(self, claim: OfferClaim) -> TicketSeen:
        """The ticket with the offer made; an offer made before stands."""
        if self.offer_id is not None or self.offered:
            return self
        return replace(self, offered=claim.articles, offer_id=claim.offer_id)


def worth_offering(suggestions: tuple[ArticleMatch, ...], rules: SelfHelpRules) -> bool:
    """Could these suggestions make an offer, whatever the category? Only then does a new
    ticket need its routing looked up."""
    return any(match.score >= rules.min_score for match in suggestions)


def to_offer(ticket: TicketSeen, rules: SelfHelpRules) -> tuple[ArticleMatch, ...]:
    """The articles to offer the ticket's customer: none until both its suggestions and its
    category are known, none outside the self-help categories, none that match too weakly."""
    if ticket.suggestions is None or ticket.category is None:
        return ()
    if not rules.covers(ticket.category, ticket.subcategory):
        return ()
    return tuple(match for match in ticket.suggestions if match.score >= rules.min_score)
