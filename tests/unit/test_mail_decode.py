"""Charsets (declared, wrong, missing, unknown) and HTML to readable text."""

from __future__ import annotations

import pytest

from services.intake.mail import ParsedMail, normalise_email
from services.intake.mail.decode import charset_name, decode_text, readable
from services.intake.mail.markup import html_to_text
from services.intake.mail.plausible import allowed_scripts, plausible
from services.intake.rejections import Rejected
from tests.unit.test_mail_parse import raw_mail


def test_declared_charset_is_trusted_when_it_decodes() -> None:
    decoded = decode_text("Привет, мир".encode("koi8-r"), "KOI8-R")
    assert decoded.text == "Привет, мир"
    assert decoded.charset == "koi8-r"
    assert decoded.notes == ()


def test_windows_charsets_carry_their_mail_names() -> None:
    assert charset_name("cp1256") == "windows-1256"
    assert charset_name("latin-1") == "iso-8859-1"
    assert charset_name("ascii") == "us-ascii"


def test_real_latin1_french_is_not_taken_for_mislabelled_text() -> None:
    text = "Bonjour, je n'arrive pas à me connecter depuis hier. Merci, c'est très urgent."
    decoded = decode_text(text.encode("latin-1"), "iso-8859-1")
    assert decoded.text == text
    assert decoded.charset == "iso-8859-1"


def test_cyrillic_labelled_latin1_is_detected_and_noted() -> None:
    text = "Добрый день, у меня не работает интернет уже третий день подряд."
    decoded = decode_text(text.encode("cp1251"), "iso-8859-1")
    assert decoded.text == text
    assert decoded.charset == "windows-1251"
    assert any("not iso-8859-1" in note for note in decoded.notes)


def test_utf8_labelled_bytes_that_are_windows_1256_are_recovered() -> None:
    text = "لطفا کمک کنيد، اينترنت من از ديروز قطع است و هيچ سايتي باز نمي شود."
    decoded = decode_text(text.encode("cp1256"), "utf-8")
    assert decoded.text == text
    assert decoded.charset == "windows-1256"


def test_unknown_charset_falls_back_to_detection() -> None:
    decoded = decode_text("Καλημέρα σας".encode(), "x-no-such-charset")
    assert decoded.text == "Καλημέρα σας"
    assert any("unknown charset" in note for note in decoded.notes)


def test_missing_charset_reads_utf8() -> None:
    assert decode_text("Grüße".encode(), None).text == "Grüße"


def test_readable_rejects_mostly_replacement_characters() -> None:
    assert readable("hello")
    assert not readable("\ufffd\ufffd\ufffda")


def test_html_keeps_links_lists_and_tables_and_drops_script_and_style() -> None:
    html = (
        "<style>p{color:red}</style><script>steal()</script><p>See <a href='https://x.example/'>"
        "this</a></p><ol><li>first</li></ol><table><tr><td>Plan</td><td>Pro</td></tr></table>"
    )
    text = html_to_text(html)
    assert "[this](https://x.example/)" in text
    assert "first" in text
    assert "Plan  Pro" in text
    assert "steal" not in text and "color" not in text


def test_html_with_xml_declaration_still_converts() -> None:
    assert html_to_text("<?xml version='1.0' encoding='utf-8'?><p>Hi there</p>") == "Hi there"


def test_plain_part_is_preferred_over_html() -> None:
    body = (
        "--b\nContent-Type: text/html; charset=utf-8\n\n<p>html version</p>\n"
        "--b\nContent-Type: text/plain; charset=utf-8\n\nplain version\n--b--\n"
    )
    result = normalise_email(raw_mail(body, content_type='multipart/alternative; boundary="b"'))
    assert isinstance(result, ParsedMail)
    assert result.text == "plain version"
    assert not result.html_only


def test_empty_plain_alternative_falls_back_to_html() -> None:
    body = (
        "--b\nContent-Type: text/plain; charset=utf-8\n\n\n"
        "--b\nContent-Type: text/html; charset=utf-8\n\n<p>only in html</p>\n--b--\n"
    )
    result = normalise_email(raw_mail(body, content_type='multipart/alternative; boundary="b"'))
    assert isinstance(result, ParsedMail)
    assert result.text == "only in html"
    assert result.html_only


def test_undecodable_text_is_rejected_when_nothing_readable_remains() -> None:
    garbage = bytes([0x80, 0x81, 0x8D, 0x8F, 0x90, 0x9D]) * 50
    result = normalise_email(raw_mail(garbage, content_type="text/plain; charset=utf-8"))
    assert isinstance(result, Rejected)
    assert result.kind == "undecodable_text"
    assert "could not be decoded" in result.detail


def test_text_with_a_few_bad_bytes_is_recovered_not_rejected() -> None:
    body = b"Der Drucker ist kaputt, bitte helfen Sie uns schnell." + b"\xff"
    result = normalise_email(raw_mail(body, content_type="text/plain; charset=utf-8"))
    assert isinstance(result, ParsedMail)
    assert "Drucker ist kaputt" in result.text


def test_unlabelled_iso_2022_jp_is_recognised_by_its_escape_sequences() -> None:
    text = "請求書がまだ届いていません。"
    for declared in (None, "us-ascii"):
        decoded = decode_text(text.encode("iso2022_jp"), declared)
        assert (decoded.text, decoded.charset) == (text, "iso-2022-jp-2")


def test_gbk_text_labelled_gb2312_is_read_as_gb18030() -> None:
    text = "朱镕基的账户无法登录"  # 镕 is in GBK, not in GB2312
    decoded = decode_text(text.encode("gbk"), "GB2312")
    assert (decoded.text, decoded.charset, decoded.notes) == (text, "gb18030", ())


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        ("Привет", "cp1251"),
        ("Нет связи", "koi8-r"),
        ("Ошибка", "koi8-r"),
        ("Καλημέρα", "iso-8859-7"),
        ("سلام دوست", "cp1256"),
        ("Grüße", "latin-1"),
        ("Très bien, merci", "latin-1"),
        ("Köln", "latin-1"),
    ],
)
def test_short_unlabelled_texts_are_not_read_as_nonsense(text: str, codec: str) -> None:
    # Guesses such as Big5 "Tr鋊 bien", CP1006 "Grﮰﻑe" or KOI8 read as CP1251 ("оЕФ УЧСЪЙ")
    # decode without error; the plausibility check turns them down.
    assert decode_text(text.encode(codec), None).text == text


def test_cjk_guesses_count_only_when_the_message_declares_a_cjk_charset() -> None:
    text = "請求書が届きません"
    # Shift_JIS bytes labelled EUC-JP: the label fails, and a CJK guess is plausible.
    decoded = decode_text(text.encode("cp932"), "euc-jp")
    assert decoded.text == text
    assert not plausible(decoded.text, allowed_scripts(("en", "ru", "el", "fa")))
    assert plausible(decoded.text, allowed_scripts(("en",), cjk=True))


def test_implausible_readings_are_told_from_real_text() -> None:
    scripts = allowed_scripts(("en", "fa", "ru", "el"))
    for nonsense in ("оЕФ УЧСЪЙ", "Kцln", "Îøèáêà", "Gr№▀e", "Ηδπΰβρςβσιςε", "Tr鋊 bien"):
        assert not plausible(nonsense, scripts), nonsense
    for text in ("Счёт за июнь", "Καλημέρα σας", "می\u200cخواهم", "iPhone сломался", "SMTP 550"):
        assert plausible(text, scripts), text
