"""Articles with translations, status and versions; editors' changes and moves; what the search
index holds of them; drafts from resolved tickets."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.kb.domain.analysis import LANGUAGES
from services.kb.domain.errors import InvalidChange, NotAllowed, StaleVersion
from shared.events import Event, KbArticleChanged

Status = Literal["draft", "published", "archived"]
#: Which status an editor may move an article to from each status.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    "draft": frozenset({"published", "archived"}),
    "published": frozenset({"draft", "archived"}),
    "archived": frozenset({"draft", "published"}),
}
_SLUG = re.compile(r"[^\w]+", re.UNICODE)
#: Who wrote a draft drafted from a resolved ticket: the knowledge base itself, not an editor.
DRAFTED_BY = "kb"


class ArticleText(BaseModel):
    """An article in one language."""

    model_config = ConfigDict(frozen=True)

    title: str = Field(min_length=1, max_length=300, description="Title, shown in results.")
    body: str = Field(max_length=100_000, description="Text of the article (plain text).")


def check_languages(value: dict[str, Any]) -> dict[str, Any]:
    """A mapping keyed by language holds only languages the search analyses."""
    unknown = sorted(set(value) - set(LANGUAGES))
    if unknown:
        raise ValueError(f"languages {unknown} are not supported; use {list(LANGUAGES)}")
    return value


class Article(BaseModel):
    """An article as stored: every translation, its status and its version."""

    model_config = ConfigDict(frozen=True)

    article_id: str = Field(min_length=1, max_length=120, pattern=r"^[\w.-]+$")
    category: str | None = Field(default=None, description="Category (categories.yaml).")
    tags: list[str] = Field(default_factory=list)
    status: Status = "draft"
    version: int = Field(default=1, ge=1, description="Raised by every change.")
    translations: dict[str, ArticleText] = Field(min_length=1)
    source_ticket_id: str | None = Field(
        default=None, description="The resolved ticket this article was drafted from."
    )
    created_by: str | None = None
    updated_by: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    _languages = field_validator("translations")(check_languages)


class ArticleFile(BaseModel):
    """`config/kb/articles.yaml`: articles loaded at start (new ones only; edits stay)."""

    articles: list[Article]


class ArticleChange(BaseModel):
    """An editor's change: the fields given replace the article's; a translation set to null
    is removed. `version` is the version the editor started from."""

    version: int = Field(ge=1, description="The version you edited (409 if it moved on).")
    category: str | None = None
    tags: list[str] | None = None
    translations: dict[str, ArticleText | None] = Field(default_factory=dict)

    _languages = field_validator("translations")(check_languages)


@dataclass(frozen=True)
class Translation:
    """One language of a published article, as the search index holds it."""

    article_id: str
    language: str
    title: str
    body: str
    tags: tuple[str, ...] = ()
    category: str | None = None


def slug(title: str, taken: str = "") -> str:
    """An article id from its title, e.g. `reset-your-password`."""
    base = _SLUG.sub("-", title.lower()).strip("-")[:80] or "article"
    return f"{base}-{taken}" if taken else base


def edited(article: Article, change: ArticleChange, editor: str, now: datetime) -> Article:
    if change.version != article.version:
        raise StaleVersion(f"article is at version {article.version}, not {change.version}")
    translations = dict(article.translations)
    for language, text in change.translations.items():
        if text is None:
            translations.pop(language, None)
        else:
            translations[language] = text
    if not translations:
        raise InvalidChange("an article keeps at least one translation")
    fields = {
        "translations": translations,
        "version": article.version + 1,
        "updated_by": editor,
        "updated_at": now,
    }
    if change.category is not None:
        fields["category"] = change.category
    if change.tags is not None:
        fields["tags"] = change.tags
    return article.model_copy(update=fields)


def moved(article: Article, status: Status, editor: str, now: datetime) -> Article:
    """The article in `status`; the same article if it is there already."""
    if status == article.status:
        return article
    if status not in TRANSITIONS[article.status]:
        raise NotAllowed(f"a {article.status} article cannot become {status}")
    update = {"status": status, "version": article.version + 1}
    return article.model_copy(update={**update, "updated_by": editor, "updated_at": now})


def searchable(article: Article) -> list[Translation]:
    """What the search index holds of an article: every translation once it is published."""
    if article.status != "published":
        return []
    return [
        Translation(
            article_id=article.article_id,
            language=language,
            title=text.title,
            body=text.body,
            tags=tuple(article.tags),
            category=article.category,
        )
        for language, text in article.translations.items()
    ]


def draft_from_ticket(
    ticket_id: str,
    subject: str,
    note: str,
    language: str,
    category: str | None,
    now: datetime,
) -> Article:
    """A draft an editor reviews: the ticket's subject as title, the resolution note as body."""
    title = (subject.strip() or note.strip().split("\n", 1)[0])[:300] or ticket_id
    return Article(
        article_id=f"from-{ticket_id}",
        category=category,
        status="draft",
        translations={language: ArticleText(title=title, body=note.strip())},
        source_ticket_id=ticket_id,
        created_by=DRAFTED_BY,
        updated_by=DRAFTED_BY,
        created_at=now,
        updated_at=now,
    )


def changed_event(article: Article, cause: Event | None = None) -> KbArticleChanged:
    """The event that tells every replica to take the article's new version; one caused by a
    ticket event has an id derived from it, so a redelivered cause publishes the same one."""
    fields = {"article_id": article.article_id, "version": article.version}
    if cause is None:
        return KbArticleChanged(status=article.status, **fields)
    effect = f"kb.article_changed:{article.article_id}:{article.version}"
    return cause.caused(KbArticleChanged, effect, ticket_id=None, status=article.status, **fields)
