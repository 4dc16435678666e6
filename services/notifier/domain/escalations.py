"""An escalation ladder in flight: the rung told last, when the next is due unless somebody
acknowledges, and everybody told so far; and how consoles see it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from services.notifier.domain.errors import Forbidden, NotFound
from services.notifier.domain.notices import Notice, line
from services.notifier.domain.views import Viewer
from shared.events.notifications import EscalationStatus


class Escalation(BaseModel):
    escalation_id: str
    ticket_id: str
    metric: str
    level: str
    team: str | None = None
    notice: Notice = Field(description="The first rung's notice; later rungs copy it.")
    rung: int = Field(ge=0, description="The rung told last.")
    rungs: int = Field(ge=1)
    status: EscalationStatus = "open"
    raised_at: datetime
    next_at: datetime | None = Field(description="When the next rung is told, if still open.")
    told: list[str] = Field(default_factory=list, description="Everybody told so far.")
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    reason: str | None = None

    def view(self) -> dict[str, Any]:
        """As the console receives it (the HTTP contract's EscalationView)."""
        notice = self.notice.model_copy(update={"rung": self.rung})
        return {
            "escalation_id": self.escalation_id,
            "ticket_id": self.ticket_id,
            "reference": notice.reference,
            "metric": self.metric,
            "level": self.level,
            "rung": self.rung,
            "rungs": self.rungs,
            "text": line(notice),
            "status": self.status,
            "raised_at": self.raised_at,
            "acknowledge_by": self.next_at if self.status == "open" else None,
            "acknowledged_by": self.acknowledged_by,
            "acknowledged_at": self.acknowledged_at,
        }

    def stops_with(self, ticket_id: str, metric: str | None) -> bool:
        """Whether a met target (`metric`) or a closed ticket (None) of `ticket_id` stops it."""
        open_ = self.status == "open"
        return open_ and self.ticket_id == ticket_id and metric in (None, self.metric)


def finished(
    escalation: Escalation,
    status: EscalationStatus,
    *,
    at: datetime,
    by: str | None,
    reason: str,
) -> Escalation:
    """The escalation stopped: acknowledged, stopped (met, resolved) or exhausted (top rung)."""
    update: dict[str, Any] = {"status": status, "next_at": None, "reason": reason}
    if status == "acknowledged":
        update |= {"acknowledged_by": by, "acknowledged_at": at}
    return escalation.model_copy(update=update)


def may_acknowledge(escalation: Escalation, viewer: Viewer) -> None:
    """Somebody told of it, or a lead or manager of its team, may acknowledge it. Another
    team's ladder is answered as unknown: its existence is not the caller's to know."""
    if viewer.person_id in escalation.told:
        return
    if escalation.team is None or escalation.team not in viewer.teams:
        raise NotFound(f"no escalation {escalation.escalation_id}")
    if viewer.role not in ("lead", "manager"):
        raise Forbidden(
            f"{viewer.person_id} was not told of this escalation and does not lead its team"
        )
