"""Satisfaction surveys: offered once per ticket after it is resolved; one answer, which the
customer may change for a configured time; the link itself expires."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel


class SurveyClosed(Exception):
    """The survey cannot take this answer (none offered, or the time to change it is over)."""


class Survey(BaseModel):
    ticket_id: str
    reference: str | None = None
    customer_id: str | None = None
    channel: str | None = None
    language: str = "en"
    team: str | None = None
    offered_at: datetime
    expires_at: datetime
    score: int | None = None
    comment: str | None = None
    answers: int = 0
    first_answered_at: datetime | None = None
    answered_at: datetime | None = None

    def to_document(self) -> dict[str, Any]:
        doc = self.model_dump()
        doc["_id"] = doc.pop("ticket_id")
        return doc

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Survey:
        return cls.model_validate({**doc, "ticket_id": doc["_id"]})


def answer(
    survey: Survey, score: int, comment: str | None, now: datetime, changeable_for: timedelta
) -> Survey:
    """The survey with this answer; the first answer, or a change within `changeable_for` of it."""
    if now > survey.expires_at:
        raise SurveyClosed("this survey's link has expired")
    first = survey.first_answered_at
    if first is not None and now > first + changeable_for:
        raise SurveyClosed("this survey was answered and can no longer be changed")
    if comment is not None:
        comment = comment.strip()[:2000] or None
    return survey.model_copy(
        update={
            "score": score,
            "comment": comment if comment is not None else survey.comment,
            "answers": survey.answers + 1,
            "first_answered_at": first or now,
            "answered_at": now,
        }
    )
