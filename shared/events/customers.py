"""Customers' records across services: topic `customers`, keyed by the customer's id.

Intake owns who a customer is. When a contact proves two records are one person, or a manager
erases a person on request, every service that keeps a customer id acts on one event here.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from shared.events.envelope import Event


class CustomerMerged(Event):
    """Two customer records were proved to be one person; `merged_id` lives on as `customer_id`.

    Produced by: intake (a contact proved it). Consumed by: router (the previous agent, the tier
    reached), kb, notifier and every other service that keeps a customer id: they move what they
    keep under `merged_id` to `customer_id`, once.
    """

    topic_key: ClassVar[str] = "customer_id"

    event_type: Literal["customer.merged"] = Field(
        default="customer.merged", description="Discriminator."
    )
    customer_id: str = Field(description="The record that survives.")
    merged_id: str = Field(description="The record merged into it, which no longer stands.")
    proved_by_contact: str | None = Field(
        default=None, description="The contact that showed both are one person."
    )


class CustomerErased(Event):
    """A customer's personal data is to be erased everywhere (the right to erasure).

    Produced by: intake (`POST /customers/{id}/erase` by a manager, or the `erase` command).
    Consumed by: every service: each deletes or blanks what it keeps of the person (identities,
    names, addresses, phone numbers, message texts, notes, attachments, search-log entries,
    delivery-log addresses) under any of `customer_ids` or for any of `ticket_ids`.
    """

    topic_key: ClassVar[str] = "customer_id"

    event_type: Literal["customer.erased"] = Field(
        default="customer.erased", description="Discriminator."
    )
    customer_id: str = Field(description="The customer (the surviving record).")
    customer_ids: list[str] = Field(
        description="Every record id the person had, merged ones included."
    )
    ticket_ids: list[str] = Field(default_factory=list, description="Every ticket of theirs.")
    identities: list[str] = Field(
        default_factory=list,
        description="What identified them (`email:…`, `phone:…`, `chat:…`, names), so services "
        "that hold free text (search logs) can find and remove it. Carried only on this topic.",
    )
    requested_by: str = Field(description="The manager who asked.")


CustomerEvent = Annotated[CustomerMerged | CustomerErased, Field(discriminator="event_type")]
