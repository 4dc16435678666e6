"""The follow-ups' clock: offers each survey and raises each wait's signal when its timer falls
due, and sends the managers' monthly reports when the month's first working day comes. Every
replica may fire the same timer: what it publishes has ids derived from the ticket and the
timer's key, so consumers keep one."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.insights.service import FIRE_BATCH, InsightsService
from shared.waking import WakingLoop

#: How often a replica looks whether a monthly report fell due.
MONTHLY_CHECK = timedelta(minutes=1)


def follow_up_clock(service: InsightsService, *, poll_seconds: float) -> WakingLoop:
    monthly_after: list[datetime] = []

    async def fire() -> datetime | None:
        while await service.fire_due() >= FIRE_BATCH:
            pass
        now = service.clock.now()
        if not monthly_after or now >= monthly_after[0]:
            # A minute's lateness is nothing to a monthly mail; a read each round is.
            monthly_after[:] = [now + MONTHLY_CHECK]
            await service.send_monthly_reports()
        return await service.next_due()

    return WakingLoop("insights.follow_ups", fire, service.clock, poll_seconds=poll_seconds)
