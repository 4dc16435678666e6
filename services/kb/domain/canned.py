"""Canned responses: an agent's ready answers, per language, with `{placeholders}` filled from
the ticket at hand."""

from __future__ import annotations

from string import Formatter

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.kb.domain.analysis import LANGUAGES
from services.kb.domain.errors import NotFound

#: What a canned response may ask to be filled in, and what it means.
PLACEHOLDERS = {
    "customer_name": "the customer's name",
    "agent_name": "the answering agent's name",
    "reference": "the ticket's reference, e.g. HD-7K3Q9X",
    "subject": "the ticket's subject",
    "article_link": "a link to a knowledge-base article",
}


class MissingValues(ValueError):
    """A placeholder was left without a value."""


def placeholders(text: str) -> list[str]:
    """The placeholders of a text, in order, each once; a malformed brace is a ValueError."""
    names = [name for _, name, _, _ in Formatter().parse(text) if name is not None]
    for name in names:
        if name not in PLACEHOLDERS:
            raise ValueError(
                f"unknown placeholder {{{name}}}; use {sorted(PLACEHOLDERS)}, "
                "or write a brace as {{ or }}"
            )
    return list(dict.fromkeys(names))


class CannedResponse(BaseModel):
    """A ready answer in one or more languages."""

    model_config = ConfigDict(frozen=True)

    canned_id: str = Field(min_length=1, max_length=120, pattern=r"^[\w.-]+$")
    title: str = Field(min_length=1, max_length=200, description="What the answer is for.")
    category: str | None = None
    texts: dict[str, str] = Field(min_length=1, description="The answer by language.")

    @field_validator("texts")
    @classmethod
    def _valid_texts(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(LANGUAGES))
        if unknown:
            raise ValueError(f"languages {unknown} are not supported; use {list(LANGUAGES)}")
        for language, text in value.items():
            if not text.strip():
                raise ValueError(f"the {language} text is empty")
            placeholders(text)
        return value

    @model_validator(mode="after")
    def _same_placeholders(self) -> CannedResponse:
        wanted = {lang: set(placeholders(text)) for lang, text in self.texts.items()}
        if len({frozenset(names) for names in wanted.values()}) > 1:
            raise ValueError(f"every language must use the same placeholders: {wanted}")
        return self

    def render(self, language: str, values: dict[str, str], fallback: str = "en") -> str:
        """The answer in `language` (else `fallback`) with every placeholder filled."""
        text = self.texts.get(language) or self.texts.get(fallback)
        if text is None:
            raise NotFound(f"no text in {language!r} or {fallback!r}")
        missing = [name for name in placeholders(text) if not values.get(name)]
        if missing:
            raise MissingValues(f"no value for {', '.join(missing)}")
        return text.format_map({name: values[name] for name in placeholders(text)})


class CannedFile(BaseModel):
    """`config/kb/canned.yaml`: canned responses loaded at start (new ones only)."""

    canned: list[CannedResponse]
