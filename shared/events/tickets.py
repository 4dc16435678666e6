"""What happens to a ticket: topic `tickets`, keyed by ticket id."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from shared.events.contacts import AttachmentInfo
from shared.events.envelope import Event

Channel = Literal["email", "phone", "chat"]
TicketStatus = Literal["open", "pending", "on_hold", "resolved", "closed", "reopened"]
Priority = Literal["P1", "P2", "P3", "P4"]
Tier = Literal["L1", "L2", "L3"]


class TicketOpened(Event):
    """A contact opened a new ticket.

    Produced by: intake. Consumed by: router (to route it), kb (to suggest articles),
    notifier (ticket projection), sla (ticket projection).
    """

    event_type: Literal["ticket.opened"] = Field(
        default="ticket.opened", description="Discriminator."
    )
    ticket_id: str = Field(description="Ticket id, derived from the opening contact's id.")
    reference: str = Field(description="Short reference shown to people.", examples=["HD-7K3Q9X"])
    contact_id: str = Field(description="The contact that opened the ticket.")
    customer_id: str = Field(description="The recognised customer.")
    customer_plan: str = Field(default="standard", description="The customer's plan.")
    customer_name: str | None = Field(
        default=None,
        description="How the customer is shown: their name, else their address or number.",
    )
    channel: Channel = Field(description="Channel of the opening contact.")
    subject: str = Field(default="", description="Subject or first line.")
    body: str = Field(default="", description="Text of the opening contact.")
    quoted_text: str = Field(
        default="", description="Email: earlier messages quoted under the new text."
    )
    signature: str = Field(default="", description="Email: the sender's signature, split off.")
    language: str | None = Field(default=None, description="Language (ISO 639-1) if known.")
    match_text: str = Field(
        default="", description="Subject and body normalised for matching (Persian letter forms)."
    )
    attachments: list[AttachmentInfo] = Field(default_factory=list, description="Files sent.")
    follows_ticket_id: str | None = Field(
        default=None, description="An earlier, closed ticket this contact replied to."
    )
    repeat_of: str | None = Field(
        default=None, description="A recent ticket of the customer about the same topic."
    )
    call_back: bool = Field(default=False, description="A missed call: call the customer back.")
    queue_wait_seconds: int | None = Field(
        default=None, description="Phone: time the caller waited in the queue."
    )


class TicketContactAppended(Event):
    """A further contact from the customer joined an open ticket.

    Produced by: intake. Consumed by: sla (next-reply clock), router, kb.
    """

    event_type: Literal["ticket.contact_appended"] = Field(
        default="ticket.contact_appended", description="Discriminator."
    )
    ticket_id: str = Field(description="The ticket the contact joined.")
    contact_id: str = Field(description="The appended contact.")
    customer_id: str = Field(description="The customer.")
    channel: Channel = Field(description="Channel of the contact.")
    body: str = Field(default="", description="Text of the contact.")
    quoted_text: str = Field(
        default="", description="Email: earlier messages quoted under the new text."
    )
    signature: str = Field(default="", description="Email: the sender's signature, split off.")
    language: str | None = Field(default=None, description="Language (ISO 639-1) if known.")
    matched_by: str = Field(
        default="", description="How it was threaded: message-id, reference, marker, ...."
    )
    attachments: list[AttachmentInfo] = Field(default_factory=list, description="Files sent.")
    queue_wait_seconds: int | None = Field(
        default=None, description="Phone: time the caller waited in the queue."
    )


class TicketAgentReplied(Event):
    """An agent replied to the customer.

    Produced by: intake (agent HTTP API). Consumed by: sla (first response / next reply met).
    """

    event_type: Literal["ticket.agent_replied"] = Field(
        default="ticket.agent_replied", description="Discriminator."
    )
    ticket_id: str = Field(description="The ticket replied to.")
    customer_id: str | None = Field(default=None, description="The ticket's customer.")
    agent_id: str = Field(description="The agent who replied.")
    body: str = Field(description="The reply text.")


class TicketNoteAdded(Event):
    """An agent added an internal note, not seen by the customer.

    Produced by: intake (agent HTTP API). Consumed by: nobody yet; kept in ticket history.
    """

    event_type: Literal["ticket.note_added"] = Field(
        default="ticket.note_added", description="Discriminator."
    )
    ticket_id: str = Field(description="The ticket.")
    customer_id: str | None = Field(default=None, description="The ticket's customer.")
    agent_id: str = Field(description="The note's author.")
    body: str = Field(description="The note.")


class TicketStatusChanged(Event):
    """The ticket moved to another status (pending, on hold, resolved, closed, reopened).

    Produced by: intake (agent HTTP API). Consumed by: sla (pause, resume, met),
    router (frees the agent's load on resolve), kb (resolved tickets).
    """

    event_type: Literal["ticket.status_changed"] = Field(
        default="ticket.status_changed", description="Discriminator."
    )
    ticket_id: str = Field(description="The ticket.")
    customer_id: str | None = Field(default=None, description="The ticket's customer.")
    status: TicketStatus = Field(description="The new status.")
    previous_status: TicketStatus | None = Field(default=None, description="The status before.")
    agent_id: str | None = Field(default=None, description="Who changed it, if an agent.")
    reason: str | None = Field(default=None, description="Why, in words.")
    resolution_note: str | None = Field(
        default=None,
        description="On resolve: how the problem was solved. The knowledge base drafts an "
        "article from it.",
    )


class TicketPriorityChanged(Event):
    """An agent changed the ticket's priority.

    Produced by: intake (agent HTTP API). Consumed by: sla (recomputes deadlines), router.
    """

    event_type: Literal["ticket.priority_changed"] = Field(
        default="ticket.priority_changed", description="Discriminator."
    )
    ticket_id: str = Field(description="The ticket.")
    customer_id: str | None = Field(default=None, description="The ticket's customer.")
    priority: Priority = Field(description="The new priority.")
    previous_priority: Priority | None = Field(default=None, description="The priority before.")
    agent_id: str | None = Field(default=None, description="Who changed it.")
    reason: str | None = Field(default=None, description="Why, in words.")


class TicketCsatReceived(Event):
    """The customer rated the service after resolution.

    Produced by: intake. Consumed by: reporting.
    """

    event_type: Literal["ticket.csat_received"] = Field(
        default="ticket.csat_received", description="Discriminator."
    )
    ticket_id: str = Field(description="The rated ticket.")
    customer_id: str | None = Field(default=None, description="The ticket's customer.")
    score: int = Field(ge=1, le=5, description="1 (very unhappy) to 5 (very happy).")
    comment: str | None = Field(default=None, description="The customer's words.")


class TicketEscalationRequested(Event):
    """An agent asked for the ticket to go up a tier.

    Produced by: intake (agent HTTP API). Consumed by: router (escalates it).
    """

    event_type: Literal["ticket.escalation_requested"] = Field(
        default="ticket.escalation_requested", description="Discriminator."
    )
    ticket_id: str = Field(description="The ticket.")
    customer_id: str | None = Field(default=None, description="The ticket's customer.")
    agent_id: str = Field(description="The agent asking.")
    to_tier: Tier | None = Field(default=None, description="Tier asked for; none: the next one.")
    reason: str = Field(description="Why, in words.")


class TicketTransferRequested(Event):
    """An agent asked for the ticket to move to another team or agent.

    Produced by: intake (agent HTTP API). Consumed by: router (transfers it).
    """

    event_type: Literal["ticket.transfer_requested"] = Field(
        default="ticket.transfer_requested", description="Discriminator."
    )
    ticket_id: str = Field(description="The ticket.")
    customer_id: str | None = Field(default=None, description="The ticket's customer.")
    agent_id: str = Field(description="The agent asking.")
    to_team: str = Field(description="Team to move it to.")
    to_agent_id: str | None = Field(default=None, description="A named agent there, if any.")
    reason: str = Field(description="Why, in words.")


TicketEvent = Annotated[
    TicketOpened
    | TicketContactAppended
    | TicketAgentReplied
    | TicketNoteAdded
    | TicketStatusChanged
    | TicketPriorityChanged
    | TicketCsatReceived
    | TicketEscalationRequested
    | TicketTransferRequested,
    Field(discriminator="event_type"),
]
