"""Intake's store in memory: the same Protocol as the MongoDB adapter, for fast tests of the use
cases and for runs without a database."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from services.intake.customers import CustomersChanged
from services.intake.domain.erasure import erased_ticket
from services.intake.domain.view import RECENT_KEPT, TICKET_FIELDS, BatchView, Changes
from services.intake.store import ACTIVE, DecisionsChanged, StoredFile
from shared.events import CustomerErased, Event
from shared.mongo import Document


def _apply(doc: Document, update: Document) -> None:
    """The few update operators the adapter uses: $set, $max, $push ($each), $addToSet."""
    doc.update(update.get("$set", {}))
    for name, value in update.get("$max", {}).items():
        if doc.get(name) is None or value > doc[name]:
            doc[name] = value
    for name, value in update.get("$push", {}).items():
        items = value["$each"] if isinstance(value, dict) else [value]
        doc.setdefault(name, []).extend(copy.deepcopy(items))
    for name, value in update.get("$addToSet", {}).items():
        items = value["$each"] if isinstance(value, dict) else [value]
        doc.setdefault(name, []).extend(i for i in items if i not in doc[name])


def _view(doc: Document) -> Document:
    return {k: copy.deepcopy(v) for k, v in doc.items() if k in TICKET_FIELDS}


class MemoryIntakeStore:
    def __init__(self) -> None:
        self.customers: dict[str, Document] = {}
        self.merges: list[Document] = []
        self.tickets: dict[str, Document] = {}
        self.threads: dict[str, str] = {}
        self.decisions: dict[str, Document] = {}
        self.calls: dict[str, Document] = {}
        self.suppressed: list[Document] = []
        self.files: dict[str, tuple[str, str, bytes]] = {}
        self._ids = itertools.count(1)

    async def load(
        self,
        contact_ids: Sequence[str],
        identity_keys: Iterable[str],
        thread_keys: Iterable[str],
        references: Iterable[str],
        phones: Iterable[tuple[str, datetime]],
    ) -> BatchView:
        keys = set(identity_keys)
        customers = {
            c["_id"]: copy.deepcopy(c)
            for c in self.customers.values()
            if keys & set(c.get("identities", ()))
        }
        threads = {k: self.threads[k] for k in thread_keys if k in self.threads}
        refs = set(references)
        tickets = {
            t["_id"]: _view(t)
            for t in self.tickets.values()
            if t["_id"] in threads.values() or t["reference"] in refs
        }
        calls: dict[str, Document] = {}
        for phone, since in dict(phones).items():
            calling = [
                t
                for t in self.tickets.values()
                if t.get("phone") == phone
                and t["status"] in ACTIVE
                and t["last_contact_at"] >= since
            ]
            if calling:
                newest = max(calling, key=lambda t: t["last_contact_at"])
                calls[phone] = tickets.setdefault(newest["_id"], _view(newest))
        return BatchView(
            customers=customers,
            tickets=tickets,
            threads=threads,
            decisions={
                c: copy.deepcopy(self.decisions[c]) for c in contact_ids if c in self.decisions
            },
            open_calls=calls,
        )

    async def write(self, changes: Changes) -> None:
        taken = {
            key
            for c in changes.new_customers.values()
            for key in c["identities"]
            for other in self.customers.values()
            if other["_id"] != c["_id"] and key in other.get("identities", ())
        }
        if taken or set(changes.new_customers) & set(self.customers):
            raise CustomersChanged(f"identities held elsewhere: {sorted(taken)}")
        self.customers.update(copy.deepcopy(changes.new_customers))
        for customer_id, keys in changes.identities_added.items():
            _apply(self.customers[customer_id], {"$addToSet": {"identities": {"$each": keys}}})
        for merge in changes.merges:
            other = self.customers[merge.merged["_id"]]
            moved = list(other.get("identities", []))
            other.update(identities=[], merged_into=merge.keeper_id, merged_identities=moved)
            _apply(self.customers[merge.keeper_id], {"$addToSet": {"identities": {"$each": moved}}})
            for held in self.tickets.values():
                if held["customer_id"] == other["_id"]:
                    held["customer_id"] = merge.keeper_id
            self.merges.append(
                {
                    "survivor": merge.keeper_id,
                    "merged": other["_id"],
                    "identities": moved,
                    "proved_by_contact": merge.contact_id,
                    "merged_at": datetime.now(UTC),
                }
            )
        taken_decisions = {d["_id"] for d in changes.decisions if d["_id"] in self.decisions}
        if taken_decisions:
            raise DecisionsChanged(f"contacts decided elsewhere: {sorted(taken_decisions)}")
        self.decisions.update({d["_id"]: copy.deepcopy(d) for d in changes.decisions})
        for ticket_id, new in changes.new_tickets.items():
            self.tickets.setdefault(ticket_id, copy.deepcopy(new))
        for change in changes.ticket_changes:
            ticket = self.tickets.get(change.ticket_id)
            if ticket is not None and not any(
                h.get("event_id") == change.event_id for h in ticket.get("history", [])
            ):
                _apply(ticket, change.update)
        for key, ticket_id in changes.thread_keys.items():
            self.threads.setdefault(key, ticket_id)
        for call in changes.calls:
            self.calls.setdefault(call["_id"], copy.deepcopy(call))
        for customer_id, topic in changes.recent:
            customer = self.customers.get(customer_id)
            if customer is not None and all(r["_id"] != topic["_id"] for r in customer["recent"]):
                customer["recent"] = [*customer["recent"], topic][-RECENT_KEPT:]

    async def customer(self, customer_id: str) -> Document | None:
        for _ in range(10):
            found = self.customers.get(customer_id)
            if found is None or not found.get("merged_into"):
                return copy.deepcopy(found)
            customer_id = found["merged_into"]
        return None

    async def merges_of(self, customer_id: str) -> list[Document]:
        return [copy.deepcopy(m) for m in self.merges if m["survivor"] == customer_id]

    async def ticket(self, ticket_id: str) -> Document | None:
        return copy.deepcopy(self.tickets.get(ticket_id))

    async def transition(
        self,
        ticket_id: str,
        from_status: str,
        to_status: str,
        event: Event | None = None,
        *,
        dropping: str | None = None,
    ) -> bool:
        ticket = self.tickets.get(ticket_id)
        if ticket is None or ticket["status"] != from_status:
            return False
        history = ticket.setdefault("history", [])
        if event is not None:
            if any(h.get("event_id") == str(event.event_id) for h in history):
                return False
            history.append(event.model_dump(mode="json"))
        if dropping is not None:
            history[:] = [h for h in history if h.get("event_id") != dropping]
        closing = to_status in ("resolved", "closed")
        ticket.update(status=to_status, closed_at=datetime.now(UTC) if closing else None)
        return True

    async def record(self, ticket_id: str, event: Event) -> None:
        ticket = self.tickets.get(ticket_id)
        if ticket is not None and not any(
            h.get("event_id") == str(event.event_id) for h in ticket.get("history", [])
        ):
            ticket.setdefault("history", []).append(event.model_dump(mode="json"))

    async def remember_key(self, key: str, ticket_id: str) -> None:
        self.threads.setdefault(key, ticket_id)

    async def project(self, changes: dict[str, Document]) -> None:
        for ticket_id, fields in changes.items():
            if ticket_id in self.tickets:
                self.tickets[ticket_id].update(copy.deepcopy(fields))

    async def tickets_of(self, customer_id: str) -> list[Document]:
        found = [t for t in self.tickets.values() if t["customer_id"] == customer_id]
        return [
            {k: copy.deepcopy(v) for k, v in t.items() if k != "opened_event"}
            for t in sorted(found, key=lambda t: t["opened_at"])
        ]

    async def calls_since(self, since: datetime) -> list[Document]:
        return [copy.deepcopy(c) for c in self.calls.values() if c["at"] >= since]

    async def suppress(self, record: Document) -> None:
        self.suppressed.append(copy.deepcopy(record))

    async def store_attachment(self, filename: str, content_type: str, data: bytes) -> str:
        file_id = f"file-{next(self._ids)}"
        self.files[file_id] = (filename, content_type, data)
        return file_id

    async def attachment(self, stored_id: str) -> StoredFile | None:
        found = self.files.get(stored_id)
        return StoredFile(stored_id, *found) if found else None

    async def customer_with(self, identity_key: str) -> Document | None:
        for customer in self.customers.values():
            if identity_key in customer.get("identities", ()) and not customer.get("erased_at"):
                return copy.deepcopy(customer)
        return None

    async def records_of(self, customer_id: str) -> list[Document]:
        found = [self.customers[customer_id]] if customer_id in self.customers else []
        frontier = [customer_id]
        while frontier:
            merged = [
                c
                for c in self.customers.values()
                if c.get("merged_into") in frontier and c not in found
            ]
            found.extend(merged)
            frontier = [c["_id"] for c in merged]
        return copy.deepcopy(found)

    async def erase(self, event: CustomerErased) -> None:
        for ticket_id in event.ticket_ids:
            ticket = self.tickets.get(ticket_id)
            if ticket is None:
                continue
            for key, value in erased_ticket(ticket).get("$set", {}).items():
                ticket[key] = value
            for key in erased_ticket(ticket).get("$unset", {}):
                ticket.pop(key, None)
        self.decisions = {
            k: d for k, d in self.decisions.items() if d["ticket_id"] not in event.ticket_ids
        }
        self.threads = {k: t for k, t in self.threads.items() if t not in event.ticket_ids}
        self.calls = {k: c for k, c in self.calls.items() if c["ticket_id"] not in event.ticket_ids}
        for customer_id in event.customer_ids:
            if customer_id in self.customers:
                record = self.customers[customer_id]
                record.update(identities=[], recent=[], erased_at=event.occurred_at)
                record.pop("merged_identities", None)
