"""Email rendering: notices into a subject, a text part and an HTML part in the reader's language.

Words come from per-language catalogs (templates/messages/*.yaml), layout from Jinja2 templates.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import quote

import jinja2
import yaml
from pydantic import TypeAdapter, ValidationError

from services.notifier.notices import Notice, Recipient
from shared.config import ConfigError

LANGUAGES = ("en", "fa", "ru", "el")
FALLBACK_LANGUAGE = "en"
_PACKAGE = "services.notifier"
_CATALOG = TypeAdapter(dict[str, str])
#: Mail clients cut long subjects anyway; a digest stops listing references before this.
_SUBJECT_LIMIT = 150
_TOPIC_LIMIT = 60
#: Bidi embeddings, overrides and isolates: in a subject they could make customer text read
#: as something else (an RTL override turns `fdp.exe` around).
_BIDI_CONTROLS = frozenset(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))


@dataclass(frozen=True)
class RenderedEmail:
    """One email: `subject` is header-safe; `language` is the one it was written in."""

    subject: str
    text: str
    html: str
    language: str = FALLBACK_LANGUAGE


def email_language(code: str) -> str:
    """The catalog for a person's language (`fa-IR` -> `fa`); English when there is none."""
    primary = code.strip().lower().replace("_", "-").split("-")[0]
    return primary if primary in LANGUAGES else FALLBACK_LANGUAGE


def read_catalog(language: str) -> dict[str, str]:
    """One catalog as written: a mapping of message keys to text, nothing else."""
    source = resources.files(_PACKAGE) / "templates" / "messages" / f"{language}.yaml"
    try:
        return _CATALOG.validate_python(yaml.safe_load(source.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"messages/{language}.yaml: {exc}") from exc


def placeholders(text: str) -> set[str]:
    """The values a message takes; `{x_lc}` (x starting lower-case) counts as `{x}`."""
    names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    return {name.removesuffix("_lc") for name in names}


@cache
def catalog(language: str) -> Mapping[str, str]:
    """A language's messages, checked against English.

    A translation may not add keys nor change a message's placeholders (either would fail
    at send time). A key it lacks is filled from English so mail still goes out; the unit
    tests insist that no catalog lacks any.
    """
    english = read_catalog(FALLBACK_LANGUAGE)
    own = english if language == FALLBACK_LANGUAGE else read_catalog(language)
    for key, text in own.items():
        if key not in english:
            raise ConfigError(f"messages/{language}.yaml: unknown key {key!r}")
        if placeholders(text) != placeholders(english[key]):
            raise ConfigError(f"messages/{language}.yaml: {key!r} has other placeholders")
    merged = english | own
    if merged["direction"] not in {"ltr", "rtl"} or len(merged["digits"]) != 10:
        raise ConfigError(f"messages/{language}.yaml: bad direction or digits")
    return merged


@dataclass(frozen=True)
class _Words:
    """A catalog in use: messages with their placeholders filled, numbers in its digits."""

    messages: Mapping[str, str]

    def __call__(self, key: str, **params: object) -> str:
        # Languages differ in whether a name opens the sentence, so each may pick its case.
        lower = {f"{k}_lc": v[:1].lower() + v[1:] for k, v in params.items() if isinstance(v, str)}
        return self.messages[key].format(**params, **lower)

    def number(self, value: int) -> str:
        return str(value).translate(str.maketrans("0123456789", self.messages["digits"]))

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
class _Block:
    """What one notice says, already in words; the text and HTML templates lay it out."""

    title: str
    intro: str
    facts: list[tuple[str, str]]
    asks: list[str]
    ack_text: str | None
    ack_url: str | None


def header_text(text: str) -> str:
    """Text fit for a header: no line breaks, control or bidi-override characters."""
    kept = (" " if unicodedata.category(c) == "Cc" or c in _BIDI_CONTROLS else c for c in text)
    return " ".join("".join(kept).split())


def _utc(moment: datetime) -> str:
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _action(notice: Notice, words: _Words) -> tuple[str, str]:
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


def _facts(notice: Notice, words: _Words) -> list[tuple[str, str]]:
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


def _block(
    notice: Notice,
    recipient: Recipient,
    words: _Words,
    console_url: str | None,
    within: timedelta | None,
) -> _Block:
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
    ack_text = ack_url = None
    if notice.escalation_id and console_url:
        ack_text = words("ack_link")
        ack_url = f"{console_url}#escalation={quote(notice.escalation_id, safe='')}"
    elif notice.escalation_id:
        ack_text = words("ack_no_link", **params)
    intro = words(f"intro_{notice.kind}{other}", **params)
    return _Block(header_text(title), intro, _facts(notice, words), asks, ack_text, ack_url)


def _digest_subject(notices: Sequence[Notice], words: _Words) -> str:
    """`[HD-AAAAAA] 3 notices [HD-BBBBBB] ...`: every reference that fits, then `+N`."""
    first, *others = dict.fromkeys(notice.reference for notice in notices)
    subject = f"[{first}] " + words("digest_subject", count=words.number(len(notices)))
    for index, reference in enumerate(others):
        if len(subject) + len(reference) + 3 + 5 > _SUBJECT_LIMIT:
            return f"{subject} +{words.number(len(others) - index)}"
        subject += f" [{reference}]"
    return subject


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader(_PACKAGE, "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_email(
    notices: Sequence[Notice],
    recipient: Recipient,
    *,
    console_url: str | None = None,
    acknowledge_within: timedelta | None = None,
) -> RenderedEmail:
    """One email to one person: one notice is a message of its kind, several are a digest.

    `acknowledge_within` is the ladder's window, told to people on a later rung.
    """
    if not notices:
        raise ValueError("an email needs at least one notice")
    language = email_language(recipient.language)
    words = _Words(catalog(language))
    blocks = [_block(n, recipient, words, console_url, acknowledge_within) for n in notices]
    digest = len(blocks) > 1
    subject = header_text(_digest_subject(notices, words) if digest else blocks[0].title)
    context: dict[str, Any] = {
        "language": language,
        "rtl": words("direction") == "rtl",
        "subject": subject,
        "digest": digest,
        "greeting": words("greeting", name=recipient.name),
        "digest_intro": words("digest_intro", count=words.number(len(blocks))),
        "signoff": words("signoff"),
        "blocks": blocks,
        "label_width": max(len(label) for block in blocks for label, _ in block.facts) + 1,
    }
    environment = _environment()
    text = environment.get_template("email.txt").render(context)
    html = environment.get_template("email.html").render(context)
    return RenderedEmail(subject=subject, text=text, html=html, language=language)
