"""How an email reads, in the reader's language: the words of each notice (title, intro,
facts, what is asked of the reader), from a catalog of messages; the layout is the templates'."""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from services.notifier.domain.notices import Notice, Recipient

LANGUAGES = ("en", "fa", "ru", "el")
FALLBACK_LANGUAGE = "en"
#: Mail clients cut long subjects anyway; a digest stops listing references before this.
_SUBJECT_LIMIT = 150
_TOPIC_LIMIT = 60
#: Bidi embeddings, overrides and isolates: in a subject they could make customer text read
#: as something else (an RTL override turns `fdp.exe` around).
_BIDI_CONTROLS = frozenset(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))


def email_language(code: str) -> str:
    """The catalog for a person's language (`fa-IR` -> `fa`); English when there is none."""
    primary = code.strip().lower().replace("_", "-").split("-")[0]
    return primary if primary in LANGUAGES else FALLBACK_LANGUAGE


def placeholders(text: str) -> set[str]:
    """The values a message takes; `{x_lc}` (x starting lower-case) counts as `{x}`."""
    names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    return {name.removesuffix("_lc") for name in names}


@dataclass(frozen=True)
class Words:
    """A catalog in use: messages with their placeholders filled, numbers in its digits."""

    messages: Mapping[str, str]

    def __call__(self, key: str, **params: object) -> str:
        # Languages differ in whether a name opens the sentence, so each may pick its case.
        lower = {f"{k}_lc": v[:1].lower() + v[1:] for k, v in params.items() if isinstance(v, str)}
        return self.messages[key].format(**params, **lower)

    def number(self, value: int) -> str:
        return str(value).translate(str.maketrans("0123456789", self.messages["digits"]))

    def decimal(self, value: float, places: int = 1) -> str:
        """`29.1`, `29,1`, `۲۹٫۱`: the language's digits and decimal separator."""
        written = f"{value:.{places}f}".replace(".", self.messages["decimal_separator"])
        return written.translate(str.maketrans("0123456789", self.messages["digits"]))

    def amount(self, value: float) -> str:
        """A measured amount: whole numbers as they are, others to two places at most."""
        if value == int(value):
            return self.number(int(value))
        return self.decimal(value, 2).rstrip(self.messages["digits"][0])

    def signed(self, value: float, places: int = 0) -> str:
        """A change: `+12`, `-3`, `0` (`+3.5` with places)."""
        sign = "+" if value > 0 else "-" if value < 0 else ""
        size = self.decimal(abs(value), places) if places else self.number(round(abs(value)))
        return sign + size

    def percent(self, share: float, *, signed: bool = False) -> str:
        """A share (0 to 1) as a percentage with one decimal: `29.1%`, `+3.0%`."""
        value = self.signed(share * 100, 1) if signed else self.decimal(share * 100)
        return self("percent", value=value)

    def duration(self, seconds: float) -> str:
        """The two largest units, as `1 h 5 min` or `۱ ساعت ۵ دقیقه`."""
        days, rest = divmod(max(0, round(seconds)), 86_400)
        hours, rest = divmod(rest, 3_600)
        minutes, secs = divmod(rest, 60)
        units = [(days, "days"), (hours, "hours"), (minutes, "minutes"), (secs, "seconds")]
        shown = [f"{self.number(v)} {self(f'unit_{u}')}" for v, u in units if v][:2]
        return " ".join(shown) or f"{self.number(0)} {self('unit_seconds')}"

    def metric(self, metric: str | None) -> str:
        key = f"metric_{metric}"
        return self(key) if key in self.messages else str(metric).replace("_", " ").capitalize()


@dataclass(frozen=True)
class TreeRow:
    """One line of a report's category tree, in words: its depth indents it."""

    depth: int
    name: str
    count: str
    share: str
    change: str


@dataclass(frozen=True)
class Block:
    """What one notice says, already in words; the text and HTML templates lay it out.

    `link_text` with `link_url` is a link to follow (acknowledging an escalation, a report's
    page); `rows` under `rows_heading` is a report's category tree.
    """

    title: str
    intro: str
    facts: list[tuple[str, str]]
    asks: list[str]
    link_text: str | None
    link_url: str | None
    rows_heading: str | None = None
    rows: list[TreeRow] = field(default_factory=list)


def header_text(text: str) -> str:
    """Text fit for a header: no line breaks, control or bidi-override characters."""
    kept = (" " if unicodedata.category(c) == "Cc" or c in _BIDI_CONTROLS else c for c in text)
    return " ".join("".join(kept).split())


def _utc(moment: datetime) -> str:
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _action(notice: Notice, words: Words) -> tuple[str, str]:
    """The prompt as a short phrase and as a request, e.g. `phone the customer`."""
    if f"action_{notice.prompt}" in words.messages:
        return words(f"action_{notice.prompt}"), words(f"ask_{notice.prompt}")
    phrase = str(notice.prompt).replace("_", " ")
    return phrase, words("ask_action", action=phrase)


def _ask(notice: Notice, role: str) -> str:
    """The message asking the reader to act, which depends on why they are told (their role).

    `prompt` stands for the prompt's own request.
    """
    mine, kind = role == "assignee", notice.kind
    fixed = {
        "transfers_exceeded": "ask_transfers",
        "assigned": "ask_take_assigned" if mine else "ask_for_information",
        "escalated": "ask_take_escalated" if mine else "ask_review_escalation",
    }
    resolution = kind == "sla_breach" and notice.metric == "resolution"
    if kind in fixed:
        return fixed[kind]
    if mine:
        if kind != "sla_breach":
            return "prompt" if kind == "sla_prompt" else "ask_act_in_time"
        return "ask_resolve_now" if resolution else "ask_reply_now"
    if resolution and (role == "manager" or notice.assignee_id):
        return "ask_step_in"
    if notice.assignee_id is None:
        return "ask_assign"
    return "ask_watch" if kind == "sla_warning" else "ask_chase"


def _facts(notice: Notice, words: Words) -> list[tuple[str, str]]:
    """The facts of the notice as (label, value), in the order they are shown."""
    overdue, left, transfers = (
        notice.overdue_seconds,
        notice.remaining_seconds,
        notice.transfer_count,
    )
    if overdue is not None or left is None:
        time_left = None  # a breach says how late it is instead
    else:
        time_left = words("business_time", duration=words.duration(left))
    tier = f"{notice.from_tier} → {notice.to_tier}" if notice.from_tier else notice.to_tier
    facts: list[tuple[str, str | None]] = [
        ("label_ticket", f"{notice.reference} ({notice.ticket_id})"),
        ("label_subject", notice.subject),
        ("label_customer", notice.customer),
        ("label_metric", words.metric(notice.metric) if notice.metric else None),
        ("label_due", _utc(notice.due_at) if notice.due_at else None),
        ("label_overdue", None if overdue is None else words.duration(overdue)),
        ("label_left", time_left),
        ("label_action", _action(notice, words)[0] if notice.prompt else None),
        ("label_priority", notice.priority),
        ("label_team", notice.team),
        ("label_tier", tier),
        ("label_transfers", None if transfers is None else words.number(transfers)),
        ("label_reason", notice.reason),
    ]
    return [(words(label), value) for label, value in facts if value]


def block(
    notice: Notice,
    recipient: Recipient,
    words: Words,
    console_url: str | None,
    within: timedelta | None,
) -> Block:
    params = {
        "reference": notice.reference,
        "metric": words.metric(notice.metric),
        "percent": words.number(notice.level_percent or 0),
        "left": words.duration(notice.remaining_seconds or 0.0),
        "action": _action(notice, words)[0] if notice.prompt else "",
        "assignee": notice.assignee_id or "?",
        "from_tier": notice.from_tier or "?",
        "to_tier": notice.to_tier or "?",
        "count": words.number(notice.transfer_count or 0),
        "escalation_id": notice.escalation_id or "",
    }
    other = "_other" if notice.kind == "assigned" and recipient.role != "assignee" else ""
    # The reference leads the subject line so that replies thread back to the ticket.
    title = f"[{notice.reference}] " + words(f"subject_{notice.kind}{other}", **params)
    if notice.kind.startswith("sla_") and notice.priority:
        title += f" ({notice.priority})"
    elif notice.subject:
        topic = header_text(notice.subject)
        title += " — " + (topic if len(topic) <= _TOPIC_LIMIT else topic[: _TOPIC_LIMIT - 1] + "…")
    asks = []
    if notice.rung > 0:
        late = words.duration(within.total_seconds()) if within else None
        asks.append(words("next_rung", within=late) if late else words("next_rung_unknown"))
    ask = _ask(notice, recipient.role)
    asks.append(_action(notice, words)[1] if ask == "prompt" else words(ask, **params))
    link_text = link_url = None
    if notice.escalation_id and console_url:
        link_text = words("ack_link")
        link_url = f"{console_url}#escalation={quote(notice.escalation_id, safe='')}"
    elif notice.escalation_id:
        link_text = words("ack_no_link", **params)
    intro = words(f"intro_{notice.kind}{other}", **params)
    return Block(header_text(title), intro, _facts(notice, words), asks, link_text, link_url)


def digest_subject(notices: Sequence[Notice], words: Words) -> str:
    """`[HD-AAAAAA] 3 notices [HD-BBBBBB] ...`: every reference that fits, then `+N`."""
    count = words("digest_subject", count=words.number(len(notices)))
    references = dict.fromkeys(n.reference for n in notices if n.reference)
    if not references:
        return count
    first, *others = references
    subject = f"[{first}] " + count
    for index, reference in enumerate(others):
        if len(subject) + len(reference) + 3 + 5 > _SUBJECT_LIMIT:
            return f"{subject} +{words.number(len(others) - index)}"
        subject += f" [{reference}]"
    return subject
