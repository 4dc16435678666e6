"""Senders RFC 5322 allows are read, and a person's mail is refused as `no_identity` only when
no address can be recovered from From, Reply-To or Sender."""

from __future__ import annotations

import pytest

from services.intake.mail.addresses import mailboxes, normal_address
from tests.unit.test_mail_parse import parsed, raw_mail, rejected


@pytest.mark.parametrize(
    ("sender", "address", "name"),
    [
        ('"John Smith" <"john smith"@example.com>', '"john smith"@example.com', "John Smith"),
        ('"john smith"@example.com', '"john smith"@example.com', None),
        ('"ann"@example.com', "ann@example.com", None),  # needless quotes go
        ("Ann <Ann@Example.COM.>", "ann@example.com", "Ann"),
        ("ann@example.com.", "ann@example.com", None),
        ("Ann Smith ann@example.com", "ann@example.com", "Ann Smith"),
        ('"Ann" ann@example.com', "ann@example.com", "Ann"),
        ("=?utf-8?q?Ann_Smith?= ann@example.com", "ann@example.com", "Ann Smith"),
        ("Ann Smith [ann@example.com]", "ann@example.com", "Ann Smith"),
        ("ann@example.com (Ann Smith)", "ann@example.com", "Ann Smith"),
        ("Smith, Ann <ann@example.com>", "ann@example.com", "Smith, Ann"),
        ("Ann Smith <mailto:ann@example.com>", "ann@example.com", "Ann Smith"),
        ('"ann@example.com"', "ann@example.com", None),
    ],
)
def test_senders_other_mail_software_writes_are_read(
    sender: str, address: str, name: str | None
) -> None:
    mail = parsed(raw_mail(sender=sender))
    assert (mail.from_address, mail.from_name) == (address, name)


def test_reply_to_stands_in_for_a_from_without_an_address() -> None:
    mail = parsed(raw_mail(sender="ACME web form", extra={"Reply-To": "Maria <maria@example.gr>"}))
    assert (mail.from_address, mail.from_name) == ("maria@example.gr", "Maria")
    assert any("taken from Reply-To" in note for note in mail.defects)


def test_reply_to_comes_before_sender_and_sender_serves_when_nothing_else_does() -> None:
    both = {"Sender": "list@lists.example", "Reply-To": "ann@example.com"}
    assert parsed(raw_mail(sender=None, extra=both)).from_address == "ann@example.com"
    only = {"Sender": "Ann <ann@example.com>"}
    assert parsed(raw_mail(sender=None, extra=only)).from_address == "ann@example.com"


def test_no_identity_names_every_header_that_held_no_address() -> None:
    result = rejected(raw_mail(sender="just a name", extra={"Reply-To": "nobody"}))
    assert result.kind == "no_identity"
    assert "From 'just a name'" in result.detail and "Reply-To 'nobody'" in result.detail


def test_a_list_keeps_order_drops_repeats_and_group_names() -> None:
    found = mailboxes("Team: A <a@x.example>, b@x.example;, undisclosed-recipients:;, A@X.example")
    assert found == [("A", "a@x.example"), (None, "b@x.example")]


@pytest.mark.parametrize("value", ["", "ann", "ann@", "@example.com", "ann smith@example.com"])
def test_text_that_is_no_address_is_none(value: str) -> None:
    assert normal_address(value) is None
