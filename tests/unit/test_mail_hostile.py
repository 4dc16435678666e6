"""Hostile mail cannot stall intake: long lines in every quote language we read, deep MIME
nesting, thousands of parts and huge headers each cost a bounded, linear amount of CPU.

These are guards against blow-ups, not speed measurements (`python -m bench.intake` measures):
the CPU budgets are ten to fifty times what the inputs take, so a loaded machine cannot make
them flake, while the quadratic splitter this replaced took minutes on a 100 kB line.
"""

from __future__ import annotations

import time

import pytest

from services.intake.mail import MailLimits, ParsedMail, normalise_email
from services.intake.mail.replies import separate
from services.intake.rejections import Rejected
from tests.corpus.mail.hostile import LANGUAGES, PHRASES, hostile_mails

SIZE = 256_000  # bytes: more than twice the text limit, so every path is taken
HOSTILE = hostile_mails(SIZE)
BUDGET = 3.0  # CPU seconds per message
LIMITS = MailLimits(max_attachment_bytes=1000)


def cpu_seconds(raw: bytes) -> tuple[float, ParsedMail | Rejected]:
    start = time.process_time()
    result = normalise_email(raw, LIMITS)
    return time.process_time() - start, result


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_mail_is_answered_within_a_bounded_cpu_time(name: str) -> None:
    spent, result = cpu_seconds(HOSTILE[name])
    assert spent < BUDGET, f"{name} took {spent:.2f} s of CPU"
    if isinstance(result, Rejected):
        # A refusal says why in words, and is never the last-guard "could not be read".
        assert result.kind in ("oversize", "no_identity") and result.detail
        assert "could not be read" not in result.detail


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_one_megabyte_line_is_split_in_bounded_time(lang: str) -> None:
    # The largest text that still reaches the splitter: ten times the text limit of 100,000.
    line = (PHRASES[lang] * (990_000 // len(PHRASES[lang])))[:990_000]
    start = time.process_time()
    result = separate(f"{line}\n\n{line}")
    assert time.process_time() - start < BUDGET
    assert result.new.startswith(line[:1000]) and result.quoted == ""


def test_nesting_and_part_counts_are_cut_with_a_note_not_a_recursion_error() -> None:
    for name in ("mime_depth", "rfc822_depth", "many_parts", "attachments"):
        _, result = cpu_seconds(HOSTILE[name])
        assert isinstance(result, ParsedMail), (name, result)
        assert any("it was read up to there" in note for note in result.defects), name


def test_huge_headers_are_cut_and_still_read() -> None:
    _, result = cpu_seconds(HOSTILE["huge_subject"])
    assert isinstance(result, ParsedMail)
    assert 1_000 < len(result.subject) <= 16_384
    _, result = cpu_seconds(HOSTILE["addresses"])
    assert isinstance(result, ParsedMail) and len(result.to_addresses) == 1  # one address, repeated
