"""What erasing a customer means for the notifier: the board rows of their tickets lose the
customer's name and the subject, and so do the notices of those tickets' deliveries (queued and
logged) and escalations; any other customer text that names them (by address, phone number,
chat handle or name) is blanked too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from services.notifier.domain.board import Row
from services.notifier.domain.notices import Notice
from shared.events import CustomerErased

#: Customer text a board row holds.
ROW_FIELDS = ("subject", "customer")
#: Customer text a notice holds (`reason` is the router's or an agent's words, which may
#: quote the customer).
NOTICE_FIELDS = ("subject", "customer", "reason")
#: The version an erased row's `opened` group gets: later than any event, so a `ticket.opened`
#: delivered again (a batch retried after the erasure) never writes the name and subject back.
ERASED_VERSION = datetime(9999, 12, 31, tzinfo=UTC)
#: Identity values shorter than this would blank unrelated text.
_SHORTEST = 3


def blank_row(row: Row) -> Row:
    """A row of an erased customer's ticket: no name, no subject, and none written back."""
    versions = {**(row.get("versions") or {}), "opened": ERASED_VERSION}
    return {**row, **dict.fromkeys(ROW_FIELDS), "versions": versions}


@dataclass(frozen=True)
class Erasure:
    ticket_ids: tuple[str, ...]
    #: The customer's record ids: a row opened without a name shows the id as its customer.
    customer_ids: tuple[str, ...]
    #: What identified them (`email:a@b` -> `a@b`), to be found in any customer text.
    texts: tuple[str, ...]

    @classmethod
    def of(cls, event: CustomerErased) -> Erasure:
        values = (identity.partition(":")[2] or identity for identity in event.identities)
        texts = tuple(dict.fromkeys(v.strip() for v in values if len(v.strip()) >= _SHORTEST))
        return cls(
            ticket_ids=tuple(dict.fromkeys(event.ticket_ids)),
            customer_ids=tuple(dict.fromkeys([event.customer_id, *event.customer_ids])),
            texts=texts,
        )

    def mentions(self, text: object) -> bool:
        """Whether a piece of customer text names the person (case does not matter)."""
        if not isinstance(text, str) or not text:
            return False
        lowered = text.casefold()
        return any(value.casefold() in lowered for value in self.texts)

    def row(self, row: Row) -> Row:
        """The row with what it holds of the person blanked (the same row if nothing)."""
        if row.get("_id") in self.ticket_ids:
            return blank_row(row)
        blanked = {f: None for f in ROW_FIELDS if self.mentions(row.get(f))}
        if row.get("customer") in self.customer_ids:
            blanked["customer"] = None
        return {**row, **blanked} if blanked else row

    def notice(self, ticket_id: str | None, notice: Notice) -> Notice:
        """A delivery's or an escalation's notice with the person's text blanked."""
        blanked = {f: None for f in NOTICE_FIELDS if self.mentions(getattr(notice, f))}
        if ticket_id in self.ticket_ids:
            blanked |= {"subject": None, "customer": None}
        return notice.model_copy(update=blanked) if blanked else notice
