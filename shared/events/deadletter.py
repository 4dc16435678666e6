"""Messages a consumer could not process, with the reason: topic `deadletter`."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from shared.events.envelope import Event


class DeadLettered(Event):
    """A message that could not be parsed or processed, kept whole with why.

    Produced by: every consumer. Consumed by: operators (inspect, fix, replay).
    """

    topic_key: ClassVar[str] = "original_key"

    event_type: Literal["deadletter"] = Field(default="deadletter", description="Discriminator.")
    service: str = Field(description="The service that gave up on it.")
    consumer_group: str | None = Field(default=None, description="Its consumer group.")
    reason: str = Field(description="What was wrong, in words.")
    error_type: str = Field(description="The exception's class.")
    source_topic: str = Field(description="Topic it came from.")
    partition: int | None = Field(default=None, description="Partition it came from.")
    offset: int | None = Field(default=None, description="Its offset there.")
    original_key: str | None = Field(default=None, description="Its key, as text.")
    original_value: str = Field(description="Its value, as text (invalid UTF-8 replaced).")
    original_headers: dict[str, str] = Field(default_factory=dict, description="Its headers.")
    attempts: int = Field(ge=1, description="Tries before giving up.")
