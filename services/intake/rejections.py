"""Why a contact cannot become a ticket: a typed reason the dead-letter topic or a 4xx carries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RejectionKind = Literal[
    "invalid_mime",
    "undecodable_text",
    "empty_contact",
    "oversize",
    "unknown_channel",
    "no_identity",
    "invalid_phone",
    "invalid_contact",
    "bad_signature",
    "auto_reply",
    "bounce",
    "mail_loop",
]

# Automatic mail is not an error: it is recorded and never opens a ticket.
AUTOMATIC: frozenset[RejectionKind] = frozenset({"auto_reply", "bounce", "mail_loop"})


@dataclass(frozen=True)
class Rejected:
    """A contact refused for a reason of a known kind, with the detail in words."""

    kind: RejectionKind
    detail: str

    @property
    def reason(self) -> str:
        return f"{self.kind}: {self.detail}"

    @property
    def automatic(self) -> bool:
        return self.kind in AUTOMATIC


class ContactRejected(ValueError):
    """Raised where a rejection must stop processing (the dead-letter middleware keeps it)."""

    def __init__(self, rejected: Rejected) -> None:
        super().__init__(rejected.reason)
        self.rejected = rejected
