"""Contacts from the channel adapters (mail gateway, telephony, chat widget): topic `contacts`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field

from shared.events.envelope import Event


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class EmailMessage(_Payload):
    """An email as the mail gateway received it."""

    channel: Literal["email"] = Field(description="The channel: email.")
    from_address: EmailStr = Field(description="Sender's address.", examples=["ana@example.com"])
    from_name: str | None = Field(default=None, description="Sender's display name.")
    to_address: str | None = Field(default=None, description="Support address it was sent to.")
    subject: str = Field(default="", description="Subject line.")
    body: str = Field(description="Plain-text body.")
    message_id: str | None = Field(default=None, description="The Message-ID header.")
    in_reply_to: str | None = Field(default=None, description="The In-Reply-To header.")


class CallRecord(_Payload):
    """A phone call as the telephony system recorded it."""

    channel: Literal["phone"] = Field(description="The channel: phone.")
    caller_number: str = Field(
        description="Caller's number as dialled.", examples=["+302101234567"]
    )
    region: str = Field(default="US", description="Region used to read a national number.")
    outcome: Literal["answered", "missed", "voicemail"] = Field(
        default="answered", description="How the call ended."
    )
    duration_seconds: int = Field(default=0, ge=0, description="Talk time.")
    queue_wait_seconds: int = Field(default=0, ge=0, description="Time waiting in the queue.")
    summary: str = Field(default="", description="Agent's summary or voicemail transcript.")


class ChatMessage(_Payload):
    """A chat message (or transcript) from the chat widget."""

    channel: Literal["chat"] = Field(description="The channel: chat.")
    chat_user_id: str = Field(description="The visitor's identity in the chat tool.")
    conversation_id: str = Field(description="The chat conversation it belongs to.")
    display_name: str | None = Field(default=None, description="Visitor's display name.")
    email: EmailStr | None = Field(default=None, description="Email the visitor gave, if any.")
    text: str = Field(description="Message text or transcript.")


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
