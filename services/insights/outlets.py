"""Where the insights service publishes."""

from __future__ import annotations

from dataclasses import dataclass

from shared.publishing import Publisher


@dataclass(frozen=True)
class Outlets:
    """Where the service publishes: its own topic (surveys, signals, reports) and the tickets
    topic (customers' answers, as `ticket.csat_received`)."""

    insights: Publisher
    tickets: Publisher
