"""Normalisation for matching in English, Persian, Russian and Greek."""

from shared.text import normalise, terms


def test_persian_arabic_letter_forms_and_digits_are_unified() -> None:
    assert normalise("كيف ۱۲۳ ٤٥") == "کیف 123 45"


def test_persian_diacritics_and_tatweel_are_removed_and_zwnj_splits_words() -> None:
    assert terms("مـــی‌خواهَم") == ["می", "خواهم"]


def test_greek_accents_fold_but_russian_short_i_stays_a_letter() -> None:
    # casefold turns final sigma into σ, so upper- and lower-case spellings match.
    assert normalise("Πρόβλημα ΣΎΝΔΕΣΗΣ") == normalise("πρόβλημα συνδέσης") == "προβλημα συνδεσησ"
    assert terms("Мой роутер, ёлка") == ["мой", "роутер", "елка"]
    assert terms("мой") != terms("мои")
