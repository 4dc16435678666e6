"""The envelope every event carries, and how a cause names the events it derives."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from shared.ids import derived_id

E = TypeVar("E", bound="Event")


class Event(BaseModel):
    """Common envelope: identity, type, version, time and the chain of causes."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    topic_key: ClassVar[str] = "ticket_id"

    event_id: UUID = Field(
        default_factory=uuid4, description="Unique id of this event; repeats are dropped."
    )
    event_type: str = Field(description="What happened; the discriminator within a topic.")
    schema_version: int = Field(default=1, description="Version of this event's schema.")
    occurred_at: AwareDatetime = Field(
        default_factory=lambda: datetime.now(UTC),
        description="When it happened, timezone-aware UTC.",
    )
    ticket_id: str | None = Field(default=None, description="The ticket this event is about.")
    correlation_id: str | None = Field(
        default=None, description="Id of the contact that started the chain."
    )
    causation_id: str | None = Field(default=None, description="Id of the event that caused it.")

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    def kafka_key(self) -> bytes | None:
        """The partition key: the ticket id unless the event's topic keys by something else."""
        value = getattr(self, self.topic_key, None)
        return str(value).encode() if value is not None else None

    def caused(self, event_cls: type[E], effect: str, **fields: Any) -> E:
        """Build an event caused by this one, with a deterministic id for `effect`."""
        fields.setdefault("ticket_id", self.ticket_id)
        fields.setdefault("correlation_id", self.correlation_id or str(self.event_id))
        return event_cls(
            event_id=derived_id(self.event_id, effect),
            causation_id=str(self.event_id),
            **fields,
        )
