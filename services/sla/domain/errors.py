"""What the SLA service's use cases refuse, each mapped to an HTTP answer in `http.py`."""

from __future__ import annotations


class NoClocks(LookupError):
    """The ticket has no SLA clocks (unknown, or not routed yet)."""

    def __init__(self, ticket_id: str) -> None:
        super().__init__(f"no SLA clocks for ticket {ticket_id}: not routed yet?")


class BadWindow(ValueError):
    """A report asked for a window that ends before it starts."""
