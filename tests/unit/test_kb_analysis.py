"""The search analysis per language: Persian letter forms, digits, diacritics, tatweel and ZWNJ;
Greek accents and final sigma; Russian and Greek stems; English stems; offsets that point into
the original text."""

from __future__ import annotations

from services.kb.domain.analysis import analyse, fold, query_terms


def words(text: str, language: str) -> list[str]:
    return [term.text for term in analyse(text, language)]


def test_persian_arabic_letter_forms_are_one_letter() -> None:
    # Arabic yeh and kaf, as an Arabic keyboard types them, meet the Persian letters.
    assert words("كتاب", "fa") == words("کتاب", "fa") == ["کتاب"]
    assert words("سيستم", "fa") == ["سیستم"]
    assert words("خانۀ", "fa") == words("خانه", "fa")
    assert words("مدرسة", "fa") == ["مدرسه"]


def test_persian_and_arabic_indic_digits_are_ascii_digits() -> None:
    assert words("کد ۱۲۳۴", "fa") == ["کد", "1234"]
    assert words("٤٥٦", "fa") == ["456"]
    assert query_terms("۴۰۴", "fa") == query_terms("404", "fa")


def test_persian_diacritics_and_tatweel_vanish_inside_the_word() -> None:
    assert words("مُشکِل", "fa") == ["مشکل"]
    assert words("مـــشـکل", "fa") == ["مشکل"]


def test_persian_zwnj_compounds_match_joined_spaced_and_by_their_parts() -> None:
    half_space = words("می‌خواهم", "fa")
    assert set(half_space) == {"می", "خواهم", "میخواهم"}
    assert "میخواهم" in words("میخواهم", "fa")
    assert set(words("می خواهم", "fa")) == {"می", "خواهم"}
    assert "کتاب" in words("کتاب‌ها", "fa")


def test_greek_accents_and_final_sigma_fold() -> None:
    assert words("Κωδικός", "el") == words("κωδικος", "el") == words("ΚΩΔΙΚΟΣ", "el")
    assert fold("ς") == "σ"
    assert fold("άέήίόύώΐΰ") == "αεηιουωιυ"


def test_greek_inflections_share_a_stem() -> None:
    assert len(set(words("υπολογιστής υπολογιστές υπολογιστή", "el"))) == 1
    assert len(set(words("λογαριασμός λογαριασμού λογαριασμό", "el"))) == 1


def test_russian_inflections_share_a_stem() -> None:
    assert len(set(words("пароль пароля паролем паролей", "ru"))) == 1
    assert len(set(words("роутер роутера роутером", "ru"))) == 1
    assert words("Ёлка", "ru") == words("елка", "ru")


def test_russian_short_i_stays_its_own_letter() -> None:
    assert fold("й") == "й"
    assert fold("ё") == "е"


def test_english_stems() -> None:
    assert words("Resetting resets reset", "en") == ["reset"] * 3
    assert words("passwords", "en") == ["password"]
    assert words("café", "en") == words("cafe", "en")


def test_hyphenated_words_also_match_joined() -> None:
    assert set(words("Wi-Fi", "en")) == {"wi", "fi", "wifi"}


def test_every_term_points_at_its_word_in_the_original() -> None:
    text = "كتاب‌هاي مـــن ۱۲۳"
    spans = [(term.text, text[term.start : term.end]) for term in analyse(text, "fa")]
    assert spans == [
        ("کتاب", "كتاب"),
        ("های", "هاي"),
        ("من", "مـــن"),
        ("123", "۱۲۳"),
        ("کتابهای", "كتاب‌هاي"),
    ]
    greek = "Ο Κωδικός ΔΕΝ"
    assert [greek[t.start : t.end] for t in analyse(greek, "el")] == ["Ο", "Κωδικός", "ΔΕΝ"]
    assert len(fold(greek)) == len(greek)


def test_query_terms_are_distinct_and_in_order() -> None:
    assert query_terms("password Passwords reset", "en") == ["password", "reset"]
    assert query_terms("  ", "en") == []
