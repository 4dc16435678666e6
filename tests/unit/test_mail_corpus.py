"""Every file of the mail corpus against its expected outcome in tests/corpus/mail/expected.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from services.intake.mail import MailLimits, ParsedMail, normalise_email
from services.intake.rejections import Rejected

CORPUS = Path(__file__).parents[1] / "corpus" / "mail"
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load((CORPUS / "expected.yaml").read_text("utf-8"))


def test_every_corpus_file_has_an_expectation() -> None:
    files = {p.name for p in CORPUS.glob("*.eml")}
    assert files <= set(EXPECTED), files - set(EXPECTED)
    assert len(files) >= 18


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_normalises_as_expected(name: str) -> None:
    want = EXPECTED[name]
    raw = (CORPUS / want.get("source", name)).read_bytes()
    result = normalise_email(raw, MailLimits(**want.get("limits", {})))
    if "rejected" in want:
        assert isinstance(result, Rejected), result
        assert result.kind == want["rejected"]
        assert result.detail
        return
    assert isinstance(result, ParsedMail), result
    assert result.from_address == want["from"]
    assert result.subject == want["subject"]
    for text in want.get("text_contains", []):
        assert text in result.text
    for text in want.get("text_excludes", []):
        assert text not in result.text
    for text in want.get("quoted_contains", []):
        assert text in result.quoted
    for text in want.get("signature_contains", []):
        assert text in result.signature
    assert len(result.attachments) == want["attachments"]
    if "attachment_names" in want:
        assert [a.filename for a in result.attachments] == want["attachment_names"]
    refused = [a.filename for a in result.attachments if a.content is None]
    assert refused == want.get("refused", [])
    assert list(result.charsets) == want["charsets"]
    if "html_only" in want:
        assert result.html_only is want["html_only"]
