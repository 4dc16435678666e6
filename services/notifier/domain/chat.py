"""Chat-tool messages: the endpoints managers register, Slack-compatible payloads, HMAC
signatures (receivers check `X-Helpdesk-Signature` with `verify`) and retry backoff."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from collections.abc import Sequence
from email.utils import parsedate_to_datetime
from typing import Annotated, Any
from urllib.parse import quote

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr

from services.notifier.domain.notices import (
    METRIC_NAMES,
    Notice,
    NoticeKind,
    TicketNoticeKind,
    describe_duration,
)

USER_AGENT = "helpdesk-notifier"
#: A digest lists at most this many notices (3 blocks each): Slack refuses more than 50 blocks.
DIGEST_LIMIT = 15
_TITLES: dict[NoticeKind, str] = {
    "sla_warning": "SLA warning",
    "sla_breach": "SLA breached",
    "sla_prompt": "Action needed",
    "assigned": "Ticket assigned",
    "escalated": "Ticket escalated",
    "transfers_exceeded": "Too many transfers",
    # Never sent to a chat room (config/notifier.yaml refuses it); titled all the same.
    "signal": "Coaching notice",
    "monthly_report": "Monthly report",
}
_ASKS = {
    "first_response": "Send the first response",
    "next_reply": "Reply to the customer",
    "resolution": "Resolve the ticket",
}


class WebhookTarget(BaseModel):
    """An endpoint a manager registered, and which notices it wants (empty list: all)."""

    model_config = ConfigDict(frozen=True)

    name: Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,64}$")]
    url: AnyHttpUrl
    secret: Annotated[SecretStr, Field(min_length=16)]
    teams: list[str] = Field(default_factory=list, description="Empty: every team.")
    kinds: list[TicketNoticeKind] = Field(default_factory=list, description="Empty: every kind.")
    active: bool = True

    def wants(self, notice: Notice) -> bool:
        if not self.active or (self.kinds and notice.kind not in self.kinds):
            return False
        return not self.teams or notice.team in self.teams


def escape(text: str) -> str:
    """Slack's escaping: with no raw `<` left, `<!channel>`, `<@U123>` and `<url|x>` are inert."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    # Clipped before escaping, so an entity such as `&amp;` is never cut in half.
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _title(notice: Notice) -> str:
    metric = METRIC_NAMES.get(notice.metric or "", notice.metric or "")
    title = _TITLES[notice.kind]
    if notice.kind == "sla_warning" and notice.level_percent is not None:
        return f"{title}: {metric} at {notice.level_percent}%"
    if notice.kind == "sla_breach":
        return f"{title}: {metric}"
    if notice.kind == "escalated" and notice.to_tier:
        return f"{title} to {notice.to_tier}"
    if notice.kind == "transfers_exceeded" and notice.transfer_count is not None:
        return f"{title} ({notice.transfer_count})"
    return title


def _ask(notice: Notice) -> str:
    if notice.prompt:
        return notice.prompt.replace("_", " ").capitalize()
    if notice.kind in ("sla_warning", "sla_breach"):
        ask = _ASKS.get(notice.metric or "", "Act on the ticket")
        return ask + (" now" if notice.kind == "sla_breach" else "")
    if notice.kind == "assigned":
        return "Pick up the ticket"
    if notice.kind == "escalated":
        return f"Take over at {notice.to_tier}" if notice.to_tier else "Take over the ticket"
    return "Review the routing"


def _timing(notice: Notice) -> tuple[str, str] | None:
    if notice.overdue_seconds is not None:
        return "Overdue by", describe_duration(notice.overdue_seconds)
    if notice.due_at is None:
        return None
    # Slack shows `<!date^…>` in each reader's own time zone; the part after `|` is the fallback.
    fallback = notice.due_at.strftime("%Y-%m-%d %H:%M UTC")
    due = f"<!date^{int(notice.due_at.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"
    if notice.remaining_seconds is not None:
        due += f" (in {describe_duration(notice.remaining_seconds)})"
    return "Due", due


def _mrkdwn(text: str) -> dict[str, Any]:
    # verbatim: Slack must not turn bare URLs, #channels or @mentions in the text into links.
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _section(notice: Notice) -> dict[str, Any]:
    reference = notice.reference or ""
    lines = [f"*{escape(_title(notice))}* · `{escape(reference)}`"]
    if notice.subject:
        lines.append(escape(_clip(notice.subject, 300)))
    if notice.customer:
        lines.append(f"Customer: {escape(_clip(notice.customer, 150))}")
    if notice.reason:
        lines.append(f"Reason: {escape(_clip(notice.reason, 300))}")
    facts: list[tuple[str, str | None]] = [
        ("Reference", escape(reference) or None),
        ("Metric", escape(METRIC_NAMES.get(notice.metric or "", notice.metric or "")) or None),
        ("Priority", escape(notice.priority) if notice.priority else None),
        ("Team", escape(notice.team) if notice.team else None),
        _timing(notice) or ("Due", None),
        ("Rung", str(notice.rung + 1) if notice.escalation_id or notice.rung else None),
        ("Ask", escape(_ask(notice))),
    ]
    fields = [_mrkdwn(f"*{label}*\n{value}") for label, value in facts if value]
    return {"type": "section", "text": _mrkdwn("\n".join(lines)), "fields": fields}


def _acknowledge(notice: Notice, console_url: str | None) -> dict[str, Any] | None:
    if notice.escalation_id is None:
        return None
    if console_url:
        link = f"{console_url}#escalation={quote(notice.escalation_id, safe='')}"
        text = f"Acknowledge to stop the escalation: <{escape(link)}|open it in the console>"
    else:
        text = f"Acknowledge escalation `{escape(notice.escalation_id)}` in the console to stop it"
    return {"type": "context", "elements": [_mrkdwn(text)]}


def slack_payload(notices: Sequence[Notice], *, console_url: str | None = None) -> dict[str, Any]:
    """One message for one notice, a digest listing them for several."""
    if not notices:
        raise ValueError("a message needs at least one notice")
    first = notices[0]
    if len(notices) == 1:
        header = f"{_title(first)} · {first.reference or ''}"
        text = f"[{first.reference or ''}] {_title(first)}"
        if first.subject:
            text += f": {_clip(first.subject, 150)}"
    else:
        header = f"{len(notices)} help desk notices"
        text = f"{header}: " + ", ".join(n.reference or "" for n in notices[:DIGEST_LIMIT])
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(header, 150)}}
    ]
    for notice in notices[:DIGEST_LIMIT]:
        if len(notices) > 1:
            blocks.append({"type": "divider"})
        blocks.append(_section(notice))
        if (context := _acknowledge(notice, console_url)) is not None:
            blocks.append(context)
    if len(notices) > DIGEST_LIMIT:
        more = f"…and {len(notices) - DIGEST_LIMIT} more in the console"
        blocks.append({"type": "context", "elements": [_mrkdwn(more)]})
    return {"text": escape(text), "blocks": blocks}


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`v1=` + hex HMAC-SHA256 of `<timestamp>.<body>`: a replayed body with a new time fails."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def signature_headers(
    secret: str, body: bytes, *, timestamp: int, delivery_key: str
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Helpdesk-Timestamp": str(timestamp),
        "X-Helpdesk-Signature": sign(secret, timestamp, body),
        "X-Helpdesk-Delivery": delivery_key,
    }


def verify(
    secret: str,
    body: bytes,
    *,
    timestamp_header: str | None,
    signature_header: str | None,
    now: float,
    tolerance_seconds: float = 300,
) -> bool:
    """True when the signature is ours and fresh (within `tolerance_seconds` of `now`)."""
    if not timestamp_header or not signature_header:
        return False
    try:
        timestamp = int(timestamp_header)
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = sign(secret, timestamp, body).encode()
    return hmac.compare_digest(expected, signature_header.encode("utf-8", "replace"))


def backoff_delay(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Full jitter: uniform(0, min(cap, base * 2^(attempt-1))) spreads retries of many senders."""
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    # Past 2^63 the product only overflows; the cap has long been reached.
    ceiling = cap if attempt > 64 else min(cap, base * 2 ** (attempt - 1))
    return rng.uniform(0, ceiling)


def next_delay(
    attempt: int, base: float, cap: float, rng: random.Random, retry_after: float | None = None
) -> float:
    """The backoff delay, never shorter than the server's Retry-After when it gave one."""
    return max(backoff_delay(attempt, base=base, cap=cap, rng=rng), retry_after or 0.0)


def retry_after_seconds(value: str | None, *, now: float) -> float | None:
    """Retry-After as seconds to wait: delta-seconds or an HTTP date; None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None
