"""Ticket priority: the ITIL impact x urgency matrix, moved by what the customer's words say
(business stopped, how many people are affected) and raised for plans and first-time customers."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from services.router.domain.vocabulary import LEVELS, Level, Priority
from shared.text import ZWNJ, normalise, terms

Phrase = tuple[str, ...]
Language = Literal["en", "fa", "ru", "el"]
PRIORITIES: tuple[Priority, ...] = ("P1", "P2", "P3", "P4")
_RANK: dict[Level, int] = {"low": 0, "medium": 1, "high": 2}
# Longer numbers are not head counts; int() of thousands of digits would even raise.
_MAX_DIGITS = 9

# Words people use to sound urgent. Shouting tells how a customer feels, not how much the
# business is hurt, and once shouting works everyone shouts: a cue made only of these words
# would let "URGENT!!!" buy a higher priority, so the config may not list one. Capitals and
# exclamation marks vanish when text is folded into words, so they never count either.
LOUDNESS_WORDS: dict[Language, tuple[str, ...]] = {
    "en": (
        "urgent", "urgently", "urgency", "asap", "emergency", "important", "critical",
        "immediately", "immediate", "now", "right", "away", "quick", "quickly", "fast",
        "hurry", "priority", "top", "high", "very", "really", "extremely", "super", "please",
        "pls", "plz", "help", "attention", "escalate", "need", "must",
    ),
    "ru": (
        "срочно", "срочный", "срочная", "срочное", "срочные", "срочняк", "очень", "немедленно",
        "быстро", "быстрее", "скорее", "помогите", "помощь", "пожалуйста", "важно", "важный",
        "критично", "критический", "экстренно", "внимание", "приоритет", "высокий", "сейчас",
        "прямо",
    ),
    "el": (
        "επείγον", "επείγοντως", "επειγόντως", "επείγουσα", "άμεσα", "αμέσως", "βοήθεια",
        "βοηθήστε", "παρακαλώ", "πολύ", "σημαντικό", "κρίσιμο", "γρήγορα", "τώρα", "προσοχή",
        "προτεραιότητα", "υψηλή",
    ),
    "fa": (
        "فوری", "فوراً", "عاجل", "اورژانسی", "اضطراری", "سریع", "سریعاً", "لطفاً", "لطفا",
        "خواهش", "می‌کنم", "کمک", "خیلی", "مهم", "بسیار", "همین", "الان", "حتماً", "فوریت",
    ),
}  # fmt: skip
_LOUD = frozenset(w for words in LOUDNESS_WORDS.values() for word in words for w in terms(word))


def _forms(phrase: str) -> list[Phrase]:
    # `normalise` turns a ZWNJ into a word break, so `عجله‌ای` matches `عجله ای`; people also
    # leave the half-space out (`عجلهای`), so that joined spelling is matched as well.
    forms = [tuple(terms(phrase)), tuple(terms(phrase.replace(ZWNJ, "")))]
    return [form for form in dict.fromkeys(forms) if form]


def _languages(language: str | None, available: Iterable[Language]) -> list[Language]:
    # The ticket's own language plus English, which turns up in tickets in every language
    # ("production down", "dns"); all of them when the language is unknown or has no list.
    known = list(available)
    code = (language or "").split("-")[0].casefold()
    own = [known_code for known_code in known if known_code == code]
    if not own:
        return known
    return own + (["en"] if code != "en" and "en" in known else [])


class PhraseBook:
    """Phrases per language, matched as consecutive folded words; finds them as written."""

    def __init__(self, by_language: Mapping[Language, Iterable[str]]) -> None:
        self._tables: dict[Language, dict[Phrase, str]] = {}
        for language, phrases in by_language.items():
            table = self._tables.setdefault(language, {})
            for phrase in phrases:
                for form in _forms(phrase):
                    table.setdefault(form, phrase)

    def find(self, words: Sequence[str], language: str | None) -> tuple[str, ...]:
        starts: dict[str, list[int]] = {}
        for position, word in enumerate(words):
            starts.setdefault(word, []).append(position)
        found: dict[str, None] = {}
        for code in _languages(language, self._tables):
            for phrase, written in self._tables[code].items():
                size = len(phrase)
                if any(tuple(words[i : i + size]) == phrase for i in starts.get(phrase[0], ())):
                    found[written] = None
        return tuple(found)


def check_phrases(by_language: Mapping[Language, list[str]], *, loud: bool = False) -> None:
    """Every phrase must have words to match; with `loud`, not only loudness words."""
    problems = []
    for language, phrases in by_language.items():
        for phrase in phrases:
            words = terms(phrase)
            if not words:
                problems.append(f"{language}: {phrase!r} has no words to match")
            elif loud and all(word in _LOUD for word in words):
                problems.append(
                    f"{language}: {phrase!r} is only loudness (shouting is not urgency, "
                    "name what is stopped or when it is due)"
                )
    if problems:
        raise ValueError("; ".join(problems))


class _Rules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class UrgencyCues(_Rules):
    """Phrases that say the business is stopped or due now (high), or can wait (low)."""

    high: dict[Language, list[str]] = Field(min_length=1)
    low: dict[Language, list[str]] = Field(default_factory=dict)
    _high: PhraseBook = PrivateAttr()
    _low: PhraseBook = PrivateAttr()

    @field_validator("high", "low")
    @classmethod
    def _real_cues(cls, value: dict[Language, list[str]]) -> dict[Language, list[str]]:
        check_phrases(value, loud=True)
        return value

    def model_post_init(self, context: Any, /) -> None:
        self._high, self._low = PhraseBook(self.high), PhraseBook(self.low)

    def urgency(self, words: Sequence[str], language: str | None, base: Level) -> tuple[Level, str]:
        # A high cue wins over a low one: "no rush for me, but the shop cannot take payments".
        high = self._high.find(words, language)
        if high:
            return "high", f"urgency high: {_quote(high)}"
        low = self._low.find(words, language)
        if low:
            return "low", f"urgency low: {_quote(low)}"
        return base, f"urgency {base} from the category"


class ImpactThresholds(_Rules):
    high: int = Field(ge=2)
    medium: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> ImpactThresholds:
        if self.medium >= self.high:
            raise ValueError(f"medium ({self.medium}) must be below high ({self.high})")
        return self


class AffectedUsers(_Rules):
    """How many people the text says are affected: counts by pattern, or "everyone" phrases."""

    patterns: dict[Language, list[str]] = Field(min_length=1)
    everyone: dict[Language, list[str]] = Field(default_factory=dict)
    thresholds: ImpactThresholds
    _patterns: dict[Language, list[re.Pattern[str]]] = PrivateAttr()
    _everyone: PhraseBook = PrivateAttr()

    @field_validator("patterns")
    @classmethod
    def _valid_patterns(cls, value: dict[Language, list[str]]) -> dict[Language, list[str]]:
        problems = []
        for language, patterns in value.items():
            for pattern in patterns:
                try:
                    groups = re.compile(pattern).groups
                except re.error as exc:
                    problems.append(f"{language}: {pattern!r} is not a valid regex: {exc}")
                    continue
                if groups != 1:
                    problems.append(f"{language}: {pattern!r} needs one group (the number)")
                # Patterns run on normalised text, which never holds these characters.
                unfolded = sorted({c for c in pattern if not c.isascii() and normalise(c) != c})
                if unfolded:
                    problems.append(
                        f"{language}: {pattern!r} has {unfolded}, which normalised text never "
                        "holds (write lower case, no accents, Persian letter forms, ASCII digits)"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("everyone")
    @classmethod
    def _valid_everyone(cls, value: dict[Language, list[str]]) -> dict[Language, list[str]]:
        check_phrases(value)
        return value

    def model_post_init(self, context: Any, /) -> None:
        self._patterns = {k: [re.compile(p) for p in v] for k, v in self.patterns.items()}
        self._everyone = PhraseBook(self.everyone)

    def count(self, folded: str, language: str | None) -> int | None:
        """The largest head count the normalised text gives, if any."""
        numbers = [
            int(match.group(1))
            for code in _languages(language, self._patterns)
            for pattern in self._patterns[code]
            for match in pattern.finditer(folded)
            if match.group(1) and len(match.group(1)) <= _MAX_DIGITS
        ]
        return max(numbers, default=None)

    def everyone_phrase(self, words: Sequence[str], language: str | None) -> str | None:
        found = self._everyone.find(words, language)
        return found[0] if found else None

    def impact(self, count: int | None, everyone: str | None) -> Level:
        if everyone is not None or (count is not None and count >= self.thresholds.high):
            return "high"
        if count is not None and count >= self.thresholds.medium:
            return "medium"
        return "low"


RaiseSteps = Annotated[int, Field(ge=0, le=3)]


class PriorityRules(_Rules):
    """The `priority` section of `config/triage.yaml`."""

    matrix: dict[Level, dict[Level, Priority]]
    urgency_cues: UrgencyCues
    affected_users: AffectedUsers
    plan_raise: dict[str, RaiseSteps]
    first_time_customer_raise: RaiseSteps = 1

    @model_validator(mode="after")
    def _complete_matrix(self) -> PriorityRules:
        missing = [
            f"impact {impact} x urgency {urgency}"
            for impact in LEVELS
            for urgency in LEVELS
            if urgency not in self.matrix.get(impact, {})
        ]
        if missing:
            raise ValueError(f"matrix is incomplete, it lacks {', '.join(missing)}")
        return self

    def plan_steps(self, plan: str) -> int:
        wanted = plan.strip().casefold()
        return next((s for p, s in self.plan_raise.items() if p.casefold() == wanted), 0)


@dataclass(frozen=True)
class PriorityDecision:
    impact: Level
    urgency: Level
    priority: Priority
    affected_users: int | None
    reasons: tuple[str, ...]

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


def raise_priority(priority: Priority, steps: int) -> Priority:
    """`steps` towards P1 (P4 -> P3 ...); never above P1."""
    if steps < 0:
        raise ValueError(f"steps must not be negative, got {steps}")
    return PRIORITIES[max(0, PRIORITIES.index(priority) - steps)]


def decide_priority(
    text: str,
    language: str | None,
    *,
    base_impact: Level,
    base_urgency: Level,
    plan: str,
    first_time: bool,
    rules: PriorityRules,
) -> PriorityDecision:
    """The priority of a ticket from its category's impact and urgency and its text."""
    words = terms(text)
    urgency, urgency_reason = rules.urgency_cues.urgency(words, language, base_urgency)
    impact, affected, impact_reason = _impact(words, text, language, base_impact, rules)
    reasons = [urgency_reason, impact_reason]
    from_matrix = rules.matrix[impact][urgency]
    steps = 0
    plan_steps = rules.plan_steps(plan)
    if plan_steps:
        steps += plan_steps
        reasons.append(f"raised {_steps(plan_steps)} for plan {plan}")
    if first_time and rules.first_time_customer_raise:
        first = rules.first_time_customer_raise
        steps += first
        reasons.append(f"raised {_steps(first)} for a first-time customer")
    priority = raise_priority(from_matrix, steps)
    if PRIORITIES.index(from_matrix) < steps:
        reasons.append("capped at P1")
    return PriorityDecision(impact, urgency, priority, affected, tuple(reasons))


def _impact(
    words: Sequence[str], text: str, language: str | None, base: Level, rules: PriorityRules
) -> tuple[Level, int | None, str]:
    affected = rules.affected_users
    count = affected.count(normalise(text), language)
    everyone = affected.everyone_phrase(words, language)
    evidence = None
    if everyone is not None:
        evidence = f"'{everyone}'"
    elif count is not None:
        evidence = f"{count} {'user' if count == 1 else 'users'} affected"
    found = affected.impact(count, everyone)
    if evidence is None:
        return base, count, f"impact {base} from the category"
    if _RANK[found] < _RANK[base]:
        # The category knows what breaks when this kind of thing breaks; one user writing
        # about it does not make an outage smaller.
        return base, count, f"impact {base} from the category, not lowered by {evidence}"
    return found, count, f"impact {found}: {evidence}"


def _quote(phrases: Sequence[str]) -> str:
    return ", ".join(f"'{phrase}'" for phrase in phrases)


def _steps(steps: int) -> str:
    names = {1: "one step", 2: "two steps", 3: "three steps"}
    return names.get(steps, f"{steps} steps")
