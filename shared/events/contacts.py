"""Contacts from the channel adapters (mail gateway, telephony, chat widget): topic `contacts`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, WithJsonSchema

from shared.events.envelope import Event


def _address(value: str) -> str:
    """An address as RFC 5322 allows it, quoted local parts (`"john smith"@example.com`)
    included: customers write from such addresses, and refusing them loses their mail."""
    try:
        checked = validate_email(value, check_deliverability=False, allow_quoted_local=True)
    except EmailNotValidError as exc:
        raise ValueError(f"not an email address: {exc}") from exc
    return str(checked.normalized)


#: An email address (what `EmailStr` checks, quoted local parts allowed too).
Address = Annotated[
    str, AfterValidator(_address), WithJsonSchema({"type": "string", "format": "email"})
]


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class AttachmentInfo(_Payload):
    """A file that came with a contact; its content is stored by intake unless refused."""

    filename: str = Field(description="File name as sent.", examples=["invoice.pdf"])
    content_type: str = Field(description="MIME type.", examples=["application/pdf"])
    size: int = Field(ge=0, description="Size in bytes.")
    stored_id: str | None = Field(default=None, description="Id of the stored content.")
    refused: str | None = Field(default=None, description="Why the content was not kept.")


class EmailMessage(_Payload):
    """An email as the mail gateway received it (intake's SMTP adapter parses raw mail into it)."""

    channel: Literal["email"] = Field(description="The channel: email.")
    from_address: Address = Field(description="Sender's address.", examples=["ana@example.com"])
    from_name: str | None = Field(default=None, description="Sender's display name.")
    to_address: str | None = Field(default=None, description="Support address it was sent to.")
    subject: str = Field(default="", description="Subject line.")
    body: str = Field(default="", description="Plain-text body: the new text of the message.")
    message_id: str | None = Field(default=None, description="The Message-ID header.")
    in_reply_to: str | None = Field(default=None, description="The In-Reply-To header.")
    references: list[str] = Field(default_factory=list, description="The References header.")
    to_addresses: list[str] = Field(default_factory=list, description="To and Cc addresses.")
    quoted_text: str = Field(default="", description="Earlier messages quoted under the reply.")
    signature: str = Field(default="", description="The sender's signature, split off.")
    html_only: bool = Field(default=False, description="The text was converted from HTML.")
    attachments: list[AttachmentInfo] = Field(default_factory=list, description="Files sent.")


class CallRecord(_Payload):
    """A phone call as the telephony system recorded it."""

    channel: Literal["phone"] = Field(description="The channel: phone.")
    caller_number: str = Field(
        description="Caller's number as dialled.", examples=["+302101234567"]
    )
    line: str | None = Field(
        default=None, description="The support line called; its region reads national numbers."
    )
    region: str | None = Field(
        default=None, description="Region to read a national number (else the line's region)."
    )
    outcome: Literal["answered", "missed", "voicemail"] = Field(
        default="answered", description="How the call ended."
    )
    duration_seconds: int = Field(default=0, ge=0, description="Talk time.")
    queue_wait_seconds: int = Field(default=0, ge=0, description="Time waiting in the queue.")
    summary: str = Field(default="", description="Agent's summary or voicemail transcript.")
    agent_id: str | None = Field(default=None, description="The agent who answered.")


class ChatMessage(_Payload):
    """A chat message (or transcript) from the chat widget."""

    channel: Literal["chat"] = Field(description="The channel: chat.")
    chat_user_id: str = Field(description="The visitor's identity in the chat tool.")
    conversation_id: str = Field(description="The chat conversation it belongs to.")
    display_name: str | None = Field(default=None, description="Visitor's display name.")
    email: Address | None = Field(default=None, description="Email the visitor gave, if any.")
    text: str = Field(default="", description="Message text or transcript.")
    kind: Literal["message", "closed"] = Field(
        default="message", description="A visitor's message, or the chat being closed."
    )
    agent_replied: bool = Field(
        default=False, description="On `closed`: whether an agent answered in the chat."
    )


ContactPayload = Annotated[EmailMessage | CallRecord | ChatMessage, Field(discriminator="channel")]


class ContactReceived(Event):
    """A customer contact arrived on a channel.

    Produced by: channel adapters (directly on Kafka) and intake's `POST /contacts`.
    Consumed by: intake, which opens a ticket or appends to one.
    """

    topic_key: ClassVar[str] = "contact_key"

    event_type: Literal["contact.received"] = Field(
        default="contact.received", description="Discriminator."
    )
    contact_id: str = Field(
        min_length=1, max_length=200, description="The adapter's unique id for this contact."
    )
    received_at: AwareDatetime | None = Field(
        default=None, description="When the channel received it."
    )
    language: str | None = Field(default=None, description="Language hint (ISO 639-1).")
    message: ContactPayload = Field(description="The channel-specific content.")

    @property
    def contact_key(self) -> str:
        m = self.message
        if isinstance(m, EmailMessage):
            return f"email:{m.from_address.lower()}"
        if isinstance(m, CallRecord):
            return f"phone:{m.caller_number}"
        return f"chat:{m.conversation_id}"

    @property
    def arrived_at(self) -> datetime:
        return self.received_at or self.occurred_at


ContactEvent = Annotated[ContactReceived, Field(discriminator="event_type")]
