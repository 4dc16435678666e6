"""Email rendering: notices into a subject, a text part and an HTML part in the reader's language.

Words come from the per-language catalogs (`config.catalog`) by the rules of `domain.wording`,
layout from Jinja2 templates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

import jinja2

from services.notifier.config import catalog
from services.notifier.domain.insight_wording import report_block, signal_block
from services.notifier.domain.notices import Notice, Recipient
from services.notifier.domain.wording import (
    FALLBACK_LANGUAGE,
    Block,
    Words,
    block,
    digest_subject,
    email_language,
    header_text,
)

_PACKAGE = "services.notifier"


@dataclass(frozen=True)
class RenderedEmail:
    """One email: `subject` is header-safe; `language` is the one it was written in."""

    subject: str
    text: str
    html: str
    language: str = FALLBACK_LANGUAGE


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


def _block(
    notice: Notice,
    recipient: Recipient,
    words: Words,
    console_url: str | None,
    acknowledge_within: timedelta | None,
) -> Block:
    if notice.signal is not None:
        return signal_block(notice, notice.signal, words)
    if notice.report is not None:
        return report_block(notice.report, words)
    return block(notice, recipient, words, console_url, acknowledge_within)


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
    words = Words(catalog(language))
    blocks = [_block(n, recipient, words, console_url, acknowledge_within) for n in notices]
    digest = len(blocks) > 1
    subject = header_text(digest_subject(notices, words) if digest else blocks[0].title)
    context: dict[str, Any] = {
        "language": language,
        "rtl": words("direction") == "rtl",
        "subject": subject,
        "digest": digest,
        "greeting": words("greeting", name=recipient.name),
        "digest_intro": words("digest_intro", count=words.number(len(blocks))),
        "signoff": words("signoff"),
        "blocks": blocks,
        "label_width": max(len(label) for b in blocks for label, _ in b.facts) + 1,
    }
    environment = _environment()
    text = environment.get_template("email.txt").render(context)
    html = environment.get_template("email.html").render(context)
    return RenderedEmail(subject=subject, text=text, html=html, language=language)
