"""A ticket's timer as stored: armed with a due time and the key it is due for, and the keys it
already fired for, so a wait raises one signal and a ticket gets one survey. The fold arms and
disarms it; the timer loop fires it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from services.insights.domain.followups import TimerKind


def timer_id(ticket_id: str, kind: str) -> str:
    return f"{kind}:{ticket_id}"


class Timer(BaseModel):
    ticket_id: str
    kind: TimerKind
    due_at: datetime | None = None
    key: str | None = None
    fired: list[str] = Field(default_factory=list)

    @property
    def timer_id(self) -> str:
        return timer_id(self.ticket_id, self.kind)

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Timer:
        return cls.model_validate({k: v for k, v in doc.items() if k != "_id"})
