"""Mail that no person wrote (auto-replies, out-of-office, bounces) and mail going round in a
loop through ourselves: recognised from headers, never opened as tickets."""

from __future__ import annotations

from email.message import Message

from services.intake.mail.addresses import addresses
from services.intake.mail.charsets import Charsets
from services.intake.mail.headers import has_header, header_count, header_text
from services.intake.mail.model import MailLimits
from services.intake.rejections import Rejected

LOOP_HEADER = "X-Helpdesk-Loop"
_AUTO_SUBJECTS = (
    "auto:",
    "automatic reply:",
    "autoreply:",
    "auto-reply:",
    "out of office",
    "автоответ",
    "автоматический ответ",
    "αυτόματη απάντηση",
    "پاسخ خودکار",
)
_BULK_PRECEDENCE = frozenset({"bulk", "junk", "auto_reply"})
_BOUNCE_SENDERS = frozenset({"mailer-daemon", "postmaster"})
_MAX_SCAN = 500  # parts looked at for a delivery report


def _lower(msg: Message, name: str, charsets: Charsets | None = None) -> str:
    return (header_text(msg, name, charsets) or "").lower()


def mail_loop(msg: Message, limits: MailLimits) -> Rejected | None:
    """Our own loop header, or more relays than a real delivery takes."""
    if has_header(msg, LOOP_HEADER):
        return Rejected("mail_loop", f"the message carries our own {LOOP_HEADER} header")
    hops = header_count(msg, "received")
    if hops > limits.max_received_hops:
        return Rejected(
            "mail_loop",
            f"the message passed {hops} relays (Received headers), more than the "
            f"{limits.max_received_hops} a delivery takes",
        )
    return None


def from_ourselves(from_address: str, limits: MailLimits) -> Rejected | None:
    if from_address in limits.support_addresses:
        return Rejected("mail_loop", f"the sender {from_address} is one of our own addresses")
    return None


def _has_delivery_status(msg: Message) -> bool:
    for seen, part in enumerate(msg.walk()):
        if seen > _MAX_SCAN:
            return False
        # Raw values first: parsing every part's Content-Type costs more than the check.
        raw = " ".join(str(v) for k, v in part.raw_items() if k.lower() == "content-type")
        if "delivery-status" in raw.lower() and part.get_content_type() == (
            "message/delivery-status"
        ):
            return True
    return False


def bounce(msg: Message, charsets: Charsets | None = None) -> Rejected | None:
    """A delivery status notification: a report, or the mailer daemon writing from a null path."""
    if msg.get_content_type() == "multipart/report" and (
        str(msg.get_param("report-type") or "").lower() == "delivery-status"
    ):
        return Rejected("bounce", "a delivery status report (multipart/report, delivery-status)")
    if _has_delivery_status(msg):
        return Rejected("bounce", "the message contains a message/delivery-status part")
    if has_header(msg, "X-Failed-Recipients"):
        return Rejected("bounce", "the message names failed recipients (X-Failed-Recipients)")
    sender = addresses(msg, "from", charsets)
    local = sender[0][1].split("@")[0] if sender else ""
    if local in _BOUNCE_SENDERS and _lower(msg, "return-path", charsets).replace(" ", "") == "<>":
        return Rejected("bounce", f"sent by {sender[0][1]} with a null Return-Path")
    return None


def auto_reply(msg: Message, charsets: Charsets | None = None) -> Rejected | None:
    """Auto-replies and out-of-office notices, by the headers mail systems set, then by subject."""
    submitted = _lower(msg, "auto-submitted", charsets).split(";")[0].strip()
    if submitted and submitted != "no":
        return Rejected("auto_reply", f"Auto-Submitted: {submitted}")
    for name in ("X-Autoreply", "X-Autorespond", "X-MS-Exchange-Inbox-Rules-Loop"):
        if has_header(msg, name):
            return Rejected("auto_reply", f"the message carries {name}")
    suppress = {t.strip() for t in _lower(msg, "x-auto-response-suppress", charsets).split(",")}
    if suppress & {"oof", "all"}:
        return Rejected("auto_reply", "X-Auto-Response-Suppress marks an automatic reply")
    precedence = _lower(msg, "precedence", charsets).strip()
    if precedence in _BULK_PRECEDENCE:
        return Rejected("auto_reply", f"Precedence: {precedence}")
    subject = _lower(msg, "subject", charsets).strip()
    prefix = next((p for p in _AUTO_SUBJECTS if subject.startswith(p)), None)
    if prefix is not None:
        return Rejected("auto_reply", f"the subject starts with {prefix!r}")
    return None
