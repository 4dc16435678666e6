"""Language detection of contact text (mails, chat, web forms) with lingua, as ISO 639-1 codes."""

from __future__ import annotations

import re
from collections.abc import Sequence

from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

# Detection cost grows linearly with the text (lingua scores every 1- to 5-gram against every
# configured language), while a few hundred words already decide the language beyond doubt.
# Capping at 2,000 characters keeps a 50 KB mail thread as cheap as a long paragraph.
DETECT_LIMIT = 2_000
# Cleaning scans a little more than it keeps, so stripped URLs and quotes do not eat the budget.
_SCAN_LIMIT = 4 * DETECT_LIMIT

# Both patterns start only where a token starts and bound what they scan before giving up: an
# unbounded `[\w.+-]+@` tried at every letter of a long run of word characters is quadratic
# (half a second on 8,000 characters), a bounded one from token starts is linear.
_URL = re.compile(r"(?<![\w+.-])(?:[a-z][a-z0-9+.-]{0,31}://|www\.)\S+", re.IGNORECASE)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+", re.UNICODE)
# "> > quoted" at a line start: the markers go, the quoted words stay (they are the contact's
# language as often as not, and dropping them would leave short replies with nothing to judge).
_QUOTE_MARKERS = re.compile(r"^[ \t]*(?:>[ \t]*)+", re.MULTILINE)
_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")


def _clean(text: str) -> str:
    """The words of a text with URLs, email addresses, digits and quote markers taken out."""
    text = _URL.sub(" ", text)
    text = _EMAIL.sub(" ", text)
    text = _QUOTE_MARKERS.sub("", text)
    text = _DIGITS.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def _truncate(text: str) -> str:
    """At most DETECT_LIMIT characters, cut at a word break so no half word is scored."""
    if len(text) <= DETECT_LIMIT:
        return text
    cut = text[:DETECT_LIMIT]
    space = cut.rfind(" ")
    return cut[:space] if space > 0 else cut


def _iso_code(code: str) -> IsoCode639_1:
    try:
        return IsoCode639_1.from_str(code.strip().lower())
    except ValueError:
        raise ValueError(f"unknown or unsupported ISO 639-1 language code: {code!r}") from None


class LanguageDetector:
    """Detects which of the configured languages a contact wrote in.

    Building loads every configured language model up front (about half a second and
    ~120 MB for the default four), so detection latency does not depend on which language
    comes first; build one per process and share it. The underlying lingua detector is
    immutable and thread-safe. Detection is synchronous CPU work (tens of microseconds for
    a short message, one to two milliseconds at the 2,000-character cap); a caller on an
    event loop that must not stall on long texts runs it with `asyncio.to_thread`.
    """

    def __init__(
        self,
        languages: Sequence[str] = ("en", "fa", "ru", "el"),
        *,
        minimum_relative_distance: float = 0.0,
        min_letters: int = 3,
    ) -> None:
        codes = list(dict.fromkeys(_iso_code(code) for code in languages))
        if len(codes) < 2:
            # lingua needs two languages to choose between; a single one is no detection.
            raise ValueError(f"at least two distinct languages are needed, got {list(languages)}")
        if min_letters < 1:
            raise ValueError(f"min_letters must be at least 1, got {min_letters}")
        self.languages: tuple[str, ...] = tuple(code.name.lower() for code in codes)
        self.min_letters = min_letters
        self._detector = (
            LanguageDetectorBuilder.from_iso_codes_639_1(*codes)
            .with_minimum_relative_distance(minimum_relative_distance)
            .with_preloaded_language_models()
            .build()
        )

    def detect(self, text: str) -> str | None:
        """The ISO 639-1 code of the text's language, or None when unsure or too little text."""
        prepared = self._prepare(text)
        if prepared is None:
            return None
        language = self._detector.detect_language_of(prepared)
        return _code(language) if language is not None else None

    def confidences(self, text: str) -> dict[str, float]:
        """A 0..1 confidence per configured language, best first; all 0.0 when nothing to judge."""
        prepared = self._prepare(text)
        if prepared is None:
            return dict.fromkeys(self.languages, 0.0)
        values = self._detector.compute_language_confidence_values(prepared)
        return {_code(value.language): value.value for value in values}

    def _prepare(self, text: str) -> str | None:
        cleaned = _truncate(_clean(text[:_SCAN_LIMIT]))
        if sum(ch.isalpha() for ch in cleaned) < self.min_letters:
            return None
        return cleaned


def _code(language: Language) -> str:
    return language.iso_code_639_1.name.lower()
