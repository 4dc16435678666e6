"""What erasing a customer means for the notifier: the board rows of their tickets lose the
customer's name and the subject, and so do the notices of those tickets' deliveries (queued and
logged) and escalations; their tickets' views lose besides every text of their timelines and
the names of the files sent; any other customer text that names them (by address, phone
number, chat handle or name) is blanked too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.notifier.domain.board import Row
from services.notifier.domain.notices import Notice
from shared.events import CustomerErased

#: Customer text a board row holds.
ROW_FIELDS = ("subject", "customer")
#: Customer text a notice holds (`reason` is the router's or an agent's words, which may
#: quote the customer).
NOTICE_FIELDS = ("subject", "customer", "reason")
#: Customer text a ticket view holds besides its timeline.
VIEW_FIELDS = ("subject", "customer")
#: Text a timeline entry holds: the customer's words, or an agent's, which may quote them.
ENTRY_FIELDS = ("body", "quoted_text", "signature")
#: Words in an event entry's fields (a reason, a resolution note, a rating's comment).
EVENT_FIELDS = ("reason", "resolution_note", "comment")
#: The version an erased row's `opened` group gets: later than any event, so a `ticket.opened`
#: delivered again (a batch retried after the erasure) never writes the name and subject back.
ERASED_VERSION = datetime(9999, 12, 31, tzinfo=UTC)
#: Identity values shorter than this would blank unrelated text.
_SHORTEST = 3


def blank_row(row: Row) -> Row:
    """A row of an erased customer's ticket: no name, no subject, and none written back."""
    versions = {**(row.get("versions") or {}), "opened": ERASED_VERSION}
    return {**row, **dict.fromkeys(ROW_FIELDS), "versions": versions}


def blank_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """A timeline entry of an erased customer's ticket: no text, no file names."""
    new = {**entry, **{f: None for f in ENTRY_FIELDS if entry.get(f) is not None}}
    if entry.get("attachments"):
        new["attachments"] = [{**a, "filename": None} for a in entry["attachments"]]
    if entry.get("fields"):
        fields = entry["fields"]
        new["fields"] = {**fields, **{f: None for f in EVENT_FIELDS if f in fields}}
    return new


def blank_view(view: dict[str, Any]) -> dict[str, Any]:
    """A ticket view of an erased customer's ticket; marked, so that an entry written later
    (a contact delivered again) is blanked too."""
    versions = {**(view.get("versions") or {}), "opened": ERASED_VERSION}
    timeline = [blank_entry(e) for e in view.get("timeline") or []]
    return {
        **view,
        **dict.fromkeys(VIEW_FIELDS),
        "erased": True,
        "versions": versions,
        "timeline": timeline,
    }


@dataclass(frozen=True)
class Erasure:
    ticket_ids: tuple[str, ...]
    #: The customer's record ids: a row opened without a name shows the id as its customer.
    customer_ids: tuple[str, ...]
    #: What identified them (`email:a@b` -> `a@b`), to be found in any customer text.
    texts: tuple[str, ...]
    #: When it was asked for (to the millisecond, as MongoDB keeps it): the erased tickets'
    #: views changed then, which is what the consoles showing them are told.
    at: datetime | None = None

    @classmethod
    def of(cls, event: CustomerErased) -> Erasure:
        values = (identity.partition(":")[2] or identity for identity in event.identities)
        texts = tuple(dict.fromkeys(v.strip() for v in values if len(v.strip()) >= _SHORTEST))
        return cls(
            ticket_ids=tuple(dict.fromkeys(event.ticket_ids)),
            customer_ids=tuple(dict.fromkeys([event.customer_id, *event.customer_ids])),
            texts=texts,
            at=event.occurred_at.replace(microsecond=event.occurred_at.microsecond // 1000 * 1000),
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

    def ticket_view(self, view: dict[str, Any]) -> dict[str, Any]:
        """The view with what it holds of the person blanked (an equal view if nothing)."""
        if view.get("_id") in self.ticket_ids:
            erased = blank_view(view)
            if self.at is not None:
                erased["updated_at"] = max(self.at, view.get("updated_at") or self.at)
            return erased
        blanked: dict[str, Any] = {f: None for f in VIEW_FIELDS if self.mentions(view.get(f))}
        if view.get("customer") in self.customer_ids:
            blanked["customer"] = None
        timeline = [self._entry(e) for e in view.get("timeline") or []]
        if timeline != (view.get("timeline") or []):
            blanked["timeline"] = timeline
        return {**view, **blanked}

    def _entry(self, entry: dict[str, Any]) -> dict[str, Any]:
        new = {**entry, **{f: None for f in ENTRY_FIELDS if self.mentions(entry.get(f))}}
        if any(self.mentions(a.get("filename")) for a in entry.get("attachments") or []):
            new["attachments"] = [
                {**a, "filename": None if self.mentions(a.get("filename")) else a["filename"]}
                for a in entry["attachments"]
            ]
        fields = entry.get("fields") or {}
        named = {f: None for f in EVENT_FIELDS if self.mentions(fields.get(f))}
        if named:
            new["fields"] = {**fields, **named}
        return new

    def notice(self, ticket_id: str | None, notice: Notice) -> Notice:
        """A delivery's or an escalation's notice with the person's text blanked."""
        blanked = {f: None for f in NOTICE_FIELDS if self.mentions(getattr(notice, f))}
        if ticket_id in self.ticket_ids:
            blanked |= {"subject": None, "customer": None}
        return notice.model_copy(update=blanked) if blanked else notice
