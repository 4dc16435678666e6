"""Normalisation for matching in English, Persian, Russian and Greek."""

import time
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.text import normalise, normalise_persian, terms


def test_persian_arabic_letter_forms_and_digits_are_unified() -> None:
    assert normalise("كيف ۱۲۳ ٤٥") == "کیف 123 45"


def test_persian_diacritics_and_tatweel_are_removed_and_zwnj_splits_words() -> None:
    assert terms("مـــی‌خواهَم") == ["می", "خواهم"]


def test_greek_accents_fold_but_russian_short_i_stays_a_letter() -> None:
    # casefold turns final sigma into σ, so upper- and lower-case spellings match.
    assert normalise("Πρόβλημα ΣΎΝΔΕΣΗΣ") == normalise("πρόβλημα συνδέσης") == "προβλημα συνδεσησ"
    assert terms("Мой роутер, ёлка") == ["мой", "роутер", "елка"]
    assert terms("мой") != terms("мои")


# -- normalise_persian -------------------------------------------------------------------------

ARABIC_BLOCKS = (
    (0x0600, 0x06FF),
    (0x0750, 0x077F),
    (0x0870, 0x08FF),
    (0xFB50, 0xFDFF),
    (0xFE70, 0xFEFF),
)


def _is_arabic_script(ch: str) -> bool:
    return any(low <= ord(ch) <= high for low, high in ARABIC_BLOCKS)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("مشكل در سيستم", "مشکل در سیستم"),  # Arabic kaf and yeh
        ("مصطفى", "مصطفی"),  # alef maksura
        ("خانۀ من", "خانه من"),  # precomposed ezafe
        ("خانهٔ من", "خانه من"),  # ezafe typed as heh + hamza above
        ("دائرةالمعارف", "دائرهالمعارف"),  # teh marbuta
    ],
)
def test_persian_letter_forms_are_unified(typed: str, expected: str) -> None:
    assert normalise_persian(typed) == expected


def test_persian_and_arabic_indic_digits_become_ascii() -> None:
    assert normalise_persian("سفارش ۱۲۳۴ و ٥٦٧٨") == "سفارش 1234 و 5678"


def test_persian_diacritics_superscript_alef_and_tatweel_are_removed() -> None:
    assert normalise_persian("مَتْنِ اِعراب‌دار") == "متن اعراب‌دار"
    assert normalise_persian("رحمٰن") == "رحمن"
    assert normalise_persian("ســـلام") == "سلام"


def test_zwnj_runs_collapse_and_stray_zwnj_at_edges_or_spaces_go() -> None:
    assert normalise_persian("می\u200c\u200c\u200cخواهم") == "می‌خواهم"
    assert normalise_persian("\u200cسلام\u200c") == "سلام"
    assert normalise_persian("کتاب\u200c خوب \u200cاست") == "کتاب خوب است"


def test_zwnj_after_a_non_joining_letter_is_removed() -> None:
    # Each of ا د ذ ر ز ژ و already ends its letter group, so the ZWNJ did nothing.
    assert normalise_persian("درخواست\u200cها") == "درخواست‌ها"  # after ت: kept
    assert normalise_persian("کار\u200cها") == "کارها"
    assert normalise_persian("روز\u200cها") == "روزها"
    assert normalise_persian("ایمیل\u200cهای شما\u200c") == "ایمیل‌های شما"
    assert normalise_persian("پرو\u200cژه") == "پروژه"


def test_space_after_mi_and_nemi_prefixes_becomes_zwnj() -> None:
    assert normalise_persian("من می خواهم رمز را عوض کنم") == "من می‌خواهم رمز را عوض کنم"
    assert normalise_persian("نمی توانم وارد شوم") == "نمی‌توانم وارد شوم"
    assert normalise_persian("مي  خواهم") == "می‌خواهم"  # Arabic yeh and a double space too


def test_space_before_plural_and_comparative_suffixes_becomes_zwnj() -> None:
    assert normalise_persian("کتاب ها") == "کتاب‌ها"
    assert normalise_persian("فایل های من") == "فایل‌های من"
    assert normalise_persian("پیام هایی که فرستادم") == "پیام‌هایی که فرستادم"
    assert normalise_persian("سریع ترین راه") == "سریع‌ترین راه"
    assert normalise_persian("بزرگ تر است") == "بزرگ‌تر است"
    # After a non-joining letter the suffix is simply written together.
    assert normalise_persian("روز ها") == "روزها"
    # A word that only starts like a suffix stays apart.
    assert normalise_persian("کتاب هادی") == "کتاب هادی"


def test_zero_width_joiner_and_bidi_marks_in_persian_words_are_dropped() -> None:
    assert normalise_persian("می\u200d\u200cخواهم\u200f") == "می‌خواهم"


def test_latin_and_other_scripts_are_untouched() -> None:
    for text in (
        "Printer\u200c on floor 3",
        "Принтер не работает",
        "Ο εκτυπωτής",
        "क्\u200dष",
        "👩\u200d💻",
    ):
        assert normalise_persian(text) == text
    # Non-Persian words beside Persian ones keep their format characters too.
    assert normalise_persian("سلام 👩\u200d💻") == "سلام 👩\u200d💻"


def test_output_is_nfc() -> None:
    assert normalise_persian("cafe\u0301 کافه") == "café کافه"


def test_normalise_persian_is_idempotent_on_real_text() -> None:
    text = "سلام، من نمي توانم فایل هاي ۱۲ صفحه‌\u200cای را باز کنم؛ سريع ترين راه چيست؟ خانۀ ما"
    once = normalise_persian(text)
    assert once == "سلام، من نمی‌توانم فایل‌های 12 صفحه‌ای را باز کنم؛ سریع‌ترین راه چیست؟ خانه ما"
    assert normalise_persian(once) == once


def test_normalise_and_terms_are_unchanged_by_the_persian_form() -> None:
    assert terms(normalise_persian("می خواهم")) == terms("می‌خواهم") == ["می", "خواهم"]


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_normalise_persian_is_idempotent_and_total(text: str) -> None:
    once = normalise_persian(text)
    assert normalise_persian(once) == once


# Arabic-script fragments mixed in, so the Persian rules actually fire under the property.
_FRAGMENTS = [*"ابپتدرزژوکگیيكهۀةمن ۱٤\u200c\u200d\u064e\u0654\u0640", "می ", " ها", " تر"]
_persian_text = st.lists(st.sampled_from(_FRAGMENTS) | st.characters()).map("".join)


@settings(max_examples=500, deadline=None)
@given(_persian_text)
def test_normalise_persian_is_idempotent_on_persian_like_text(text: str) -> None:
    once = normalise_persian(text)
    assert normalise_persian(once) == once


@settings(max_examples=500, deadline=None)
@given(st.text(st.characters().filter(lambda ch: not _is_arabic_script(ch))))
def test_text_without_arabic_script_is_only_put_in_nfc(text: str) -> None:
    assert normalise_persian(text) == unicodedata.normalize("NFC", text)
    nfc = unicodedata.normalize("NFC", text)
    assert normalise_persian(nfc) == nfc


@pytest.mark.parametrize(
    "unit", ["می ", "کتاب ها ", "مي\u200cخواهم\u200c", "> ", " ", "\u200c", "a."]
)
def test_matching_forms_of_a_long_contact_text_take_linear_time(unit: str) -> None:
    # Intake folds every contact's subject and body (up to 100,000 characters) into these forms;
    # a guard against a blow-up, with a budget far above the ~0.2 s they take.
    text = unit * (100_000 // len(unit))
    start = time.process_time()
    normalise_persian(text)
    terms(text)
    assert time.process_time() - start < 3.0
