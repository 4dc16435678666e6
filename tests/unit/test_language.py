"""Language detection of contact text in English, Persian, Russian and Greek."""

import time
from collections.abc import Iterator

import pytest

from shared.language import DETECT_LIMIT, LanguageDetector, _clean


@pytest.fixture(scope="module")
def detector() -> Iterator[LanguageDetector]:
    # Building preloads every language model (about half a second), so one per module.
    yield LanguageDetector()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi there", "en"),
        ("My laptop will not connect to the office Wi-Fi since this morning.", "en"),
        ("Could you please reset my password? I am locked out of my account.", "en"),
        ("The invoice for order 4471 was charged twice, can I get a refund?", "en"),
        ("سلام", "fa"),
        ("لطفاً رمز عبور من را بازنشانی کنید.", "fa"),
        ("از دیروز نمی‌توانم وارد حساب کاربری‌ام شوم، لطفاً کمک کنید.", "fa"),
        ("فاکتور سفارش ۴۴۷۱ دو بار از کارت من کسر شده است.", "fa"),
        ("Привет", "ru"),
        ("Здравствуйте, у меня не работает VPN после обновления.", "ru"),
        ("Пожалуйста, сбросьте мой пароль, я не могу войти в систему.", "ru"),
        ("Счёт за заказ 4471 списали дважды, верните деньги.", "ru"),
        ("Γεια σας", "el"),
        ("Ο εκτυπωτής στο γραφείο δεν εκτυπώνει από χθες.", "el"),
        ("Παρακαλώ επαναφέρετε τον κωδικό πρόσβασής μου.", "el"),
        ("Η παραγγελία 4471 χρεώθηκε δύο φορές, θέλω επιστροφή χρημάτων.", "el"),
    ],
)
def test_detects_the_language_of_help_desk_messages(
    detector: LanguageDetector, text: str, expected: str
) -> None:
    assert detector.detect(text) == expected


def test_persian_typed_with_arabic_yeh_and_kaf_is_still_persian(detector: LanguageDetector) -> None:
    assert detector.detect("لطفا كمك كنيد، سيستم من كار نمي كند") == "fa"


def test_the_majority_language_of_mixed_text_wins(detector: LanguageDetector) -> None:
    assert detector.detect("سلام، اینترنت من از دیروز قطع است و router را reset کردم") == "fa"
    assert detector.detect("The VPN client keeps disconnecting every few minutes. Спасибо") == "en"
    assert detector.detect("Здравствуйте, после update Windows не открывается Outlook") == "ru"
    assert detector.detect("Καλημέρα, το laptop μου δεν συνδέεται στο δίκτυο της εταιρείας") == "el"


@pytest.mark.parametrize("text", ["", "   ", "ok", "12345 678", "!!! ???", "> > >", "a1b2"])
def test_too_little_text_is_not_judged(detector: LanguageDetector, text: str) -> None:
    assert detector.detect(text) is None
    assert detector.confidences(text) == {"en": 0.0, "fa": 0.0, "ru": 0.0, "el": 0.0}


def test_urls_emails_and_digits_are_ignored(detector: LanguageDetector) -> None:
    text = "لطفاً این صفحه را بررسی کنید https://support.example.com/tickets/4471?lang=en"
    assert detector.detect(text) == "fa"
    assert detector.detect("به support-team@example.com ایمیل زدم") == "fa"
    # Nothing but a link and an address leaves no words to judge.
    assert detector.detect("https://example.com/reset-password john.smith@example.com 555") is None


def test_quoted_mail_markers_are_ignored(detector: LanguageDetector) -> None:
    reply = "> > Ваш запрос получен\n> Спасибо"
    assert detector.detect(reply) == "ru"


def test_confidences_cover_every_configured_language(detector: LanguageDetector) -> None:
    values = detector.confidences("Ο εκτυπωτής δεν λειτουργεί")
    assert set(values) == {"en", "fa", "ru", "el"}
    assert max(values, key=values.__getitem__) == "el"
    assert sum(values.values()) == pytest.approx(1.0)


def test_only_the_first_characters_of_long_texts_are_judged(detector: LanguageDetector) -> None:
    english = "The shared drive is not reachable from the office network. " * 50
    russian = "Общий диск недоступен из офисной сети. " * 200
    assert len(english) >= DETECT_LIMIT
    assert detector.detect(english + russian) == "en"


def test_min_letters_is_configurable() -> None:
    strict = LanguageDetector(("en", "ru"), min_letters=10)
    assert strict.detect("Привет") is None
    assert strict.detect("Привет, помогите пожалуйста") == "ru"


def test_unknown_language_code_is_rejected_by_name() -> None:
    with pytest.raises(ValueError, match="'xx'"):
        LanguageDetector(("en", "xx"))


def test_a_single_language_is_rejected() -> None:
    with pytest.raises(ValueError, match="two distinct languages"):
        LanguageDetector(("en", "EN"))


def test_codes_are_case_insensitive_and_arabic_can_be_added() -> None:
    with_arabic = LanguageDetector(("EN", "fa", "ar"))
    assert with_arabic.languages == ("en", "fa", "ar")
    assert with_arabic.detect("من نمی‌خواهم این گزارش را دوباره بفرستم، لطفاً بررسی کنید") == "fa"
    assert with_arabic.detect("أريد إعادة تعيين كلمة المرور الخاصة بي من فضلك") == "ar"


def test_minimum_relative_distance_makes_unsure_texts_none() -> None:
    cautious = LanguageDetector(("en", "de"), minimum_relative_distance=0.9)
    assert cautious.detect("Hallo") is None
    long_german = "Bitte setzen Sie mein Passwort zurück, ich komme nicht mehr in mein Konto."
    assert cautious.detect(long_german) == "de"


@pytest.mark.parametrize("unit", ["a", "a.", "a-", "1", "a@", "www.", "http://", "> ", "ab.cd@ef"])
def test_hostile_contact_text_is_judged_in_bounded_time(
    detector: LanguageDetector, unit: str
) -> None:
    # Unbounded URL and address patterns tried at every character of a long run took half a
    # second on the 8,000 characters scanned; the budget is a guard, far above the few ms taken.
    start = time.process_time()
    detector.detect(unit * (100_000 // len(unit)))
    assert time.process_time() - start < 0.5


def test_addresses_and_urls_are_still_taken_out() -> None:
    cleaned = _clean("write to ann.lee+x@mail.example.com or see https://x.example/a?b=1 now")
    assert cleaned == "write to or see now"
