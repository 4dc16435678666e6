"""The ladders' clock: tells the next rung of each escalation nobody acknowledged in time.

It wakes at the deadline of a ladder this replica armed; those other replicas armed are found
within the poll interval. Climbing is conditional, so replicas never climb one rung twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from services.notifier.service import NotifierService
from shared.waking import WakingLoop


def ladder_clock(service: NotifierService, *, poll_seconds: float) -> WakingLoop:
    async def climb() -> datetime | None:
        await service.climb_due()
        horizon = service.clock.now() + timedelta(seconds=poll_seconds)
        return await service.store.next_escalation_due(horizon)

    return WakingLoop("notifier.ladders", climb, service.clock, poll_seconds=poll_seconds)
