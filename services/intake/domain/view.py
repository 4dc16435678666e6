"""What intake knows while it decides one batch of contacts: customers, tickets and thread keys
read in bulk, changed in memory contact by contact (so a later contact of the batch sees what an
earlier one did), and the changes the store then writes in a few bulk operations."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.intake.domain.customers import Identity, new_customer_id, survivor

Document = dict[str, Any]
#: Recent tickets a customer record keeps for spotting repeats (their topics), newest last.
RECENT_KEPT = 10
#: What a ticket record must hold for threading and for the events of contacts joining it.
TICKET_FIELDS = (
    "_id",
    "reference",
    "customer_id",
    "contact_id",
    "channel",
    "status",
    "closed_at",
    "phone",
    "last_contact_at",
)


@dataclass
class Merge:
    """Two customer records proved to be one person: `merged` moves into `keeper`."""

    keeper_id: str
    merged: Document
    contact_id: str


@dataclass
class TicketChange:
    """One decision's change to one ticket, applied once: skipped when `event_id` is in its
    history already (a replay of the decision)."""

    ticket_id: str
    event_id: str
    update: Document


@dataclass
class Changes:
    """Everything one batch's decisions write, grouped for bulk writes."""

    new_customers: dict[str, Document] = field(default_factory=dict)
    identities_added: dict[str, list[str]] = field(default_factory=dict)
    merges: list[Merge] = field(default_factory=list)
    recent: list[tuple[str, Document]] = field(default_factory=list)
    decisions: list[Document] = field(default_factory=list)
    new_tickets: dict[str, Document] = field(default_factory=dict)
    ticket_changes: list[TicketChange] = field(default_factory=list)
    thread_keys: dict[str, str] = field(default_factory=dict)
    calls: list[Document] = field(default_factory=list)


@dataclass
class BatchView:
    """The state one batch of contacts is decided on, and what deciding it changed."""

    customers: dict[str, Document] = field(default_factory=dict)
    tickets: dict[str, Document] = field(default_factory=dict)
    threads: dict[str, str] = field(default_factory=dict)
    decisions: dict[str, Document] = field(default_factory=dict)
    #: phone (E.164) -> the newest open ticket of that caller, for repeated calls.
    open_calls: dict[str, Document] = field(default_factory=dict)
    changes: Changes = field(default_factory=Changes)
    #: identity key -> customer id, kept in step with `customers`.
    _by_identity: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for customer in self.customers.values():
            self._index(customer)

    def _index(self, customer: Document) -> None:
        for key in customer.get("identities", ()):
            self._by_identity[key] = customer["_id"]

    # -- reading ---------------------------------------------------------------------------------

    def customer_with(self, key: str) -> Document | None:
        customer_id = self._by_identity.get(key)
        return self.customers.get(customer_id) if customer_id else None

    def ticket_by_key(self, keys: list[str]) -> tuple[Document, str] | None:
        for key in keys:
            ticket = self.tickets.get(self.threads.get(key, ""))
            if ticket is not None:
                return ticket, key
        return None

    def ticket_by_reference(self, reference: str) -> Document | None:
        return next((t for t in self.tickets.values() if t.get("reference") == reference), None)

    def open_call(self, phone: str, since: datetime) -> Document | None:
        ticket = self.open_calls.get(phone)
        if ticket is None or ticket["status"] not in ("open", "reopened", "pending", "on_hold"):
            return None
        return ticket if ticket["last_contact_at"] >= since else None

    # -- customers -------------------------------------------------------------------------------

    def recognise(self, identities: list[Identity], contact_id: str, now: datetime) -> Document:
        """The customer these identities belong to: created if new, merged if several."""
        keys = [i.key for i in identities]
        found: dict[str, Document] = {}
        for key in keys:
            customer = self.customer_with(key)
            if customer is not None:
                found[customer["_id"]] = customer
        if not found:
            doc: Document = {
                "_id": new_customer_id(),
                "identities": keys,
                "plan": "standard",
                "created_at": now,
                "recent": [],
            }
            self.customers[doc["_id"]] = doc
            self._index(doc)
            self.changes.new_customers[doc["_id"]] = doc
            return doc
        keeper = survivor(found.values())
        for other in found.values():
            if other["_id"] != keeper["_id"]:
                self._merge(keeper, other, contact_id)
        self._add_identities(keeper, [k for k in keys if k not in keeper["identities"]])
        return keeper

    def _merge(self, keeper: Document, other: Document, contact_id: str) -> None:
        self.changes.merges.append(Merge(keeper["_id"], dict(other), contact_id))
        moved = list(other["identities"])
        other.update(identities=[], merged_into=keeper["_id"], merged_identities=moved)
        keeper["identities"] = list(dict.fromkeys([*keeper["identities"], *moved]))
        self._index(keeper)
        keeper["recent"] = [*other.get("recent", []), *keeper.get("recent", [])][-RECENT_KEPT:]
        for ticket in self.tickets.values():
            if ticket.get("customer_id") == other["_id"]:
                ticket["customer_id"] = keeper["_id"]

    def _add_identities(self, customer: Document, keys: list[str]) -> None:
        if not keys:
            return
        customer["identities"] = [*customer["identities"], *keys]
        self._index(customer)
        if customer["_id"] not in self.changes.new_customers:
            self.changes.identities_added.setdefault(customer["_id"], []).extend(keys)

    def recent_of(self, customer_id: str, since: datetime) -> list[Document]:
        customer = self.customers.get(customer_id) or {}
        return [r for r in customer.get("recent", []) if r["opened_at"] >= since]

    # -- tickets ---------------------------------------------------------------------------------

    def opened(self, ticket: Document, topic: Document) -> None:
        """A new ticket: its record, and the customer's list of recent topics."""
        self.tickets[ticket["_id"]] = ticket
        self.changes.new_tickets[ticket["_id"]] = ticket
        customer = self.customers.get(ticket["customer_id"])
        if customer is not None:
            customer["recent"] = [*customer.get("recent", []), topic][-RECENT_KEPT:]
        self.changes.recent.append((ticket["customer_id"], topic))
        if ticket.get("phone"):
            self.open_calls[ticket["phone"]] = ticket

    def changed(self, ticket_id: str, event_id: str, update: Document) -> None:
        """A change to an existing ticket (a contact joined it, its status moved)."""
        ticket = self.tickets.get(ticket_id)
        if ticket is not None:
            ticket.update(update.get("$set", {}))
            for name, value in update.get("$max", {}).items():
                current = ticket.get(name)
                ticket[name] = value if current is None or value > current else current
        self.changes.ticket_changes.append(TicketChange(ticket_id, event_id, update))

    def remember(self, keys: list[str], ticket_id: str) -> None:
        for key in keys:
            self.threads.setdefault(key, ticket_id)
            self.changes.thread_keys.setdefault(key, ticket_id)
