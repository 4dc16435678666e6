"""Knowledge-base events: topic `kb`, keyed by ticket id or query id."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.events.envelope import Event


class ArticleMatch(BaseModel):
    """One suggested article and how well it matched."""

    model_config = ConfigDict(frozen=True)

    article_id: str = Field(description="Article id.")
    title: str = Field(description="Article title in its language.")
    language: str = Field(description="Article language (ISO 639-1).")
    score: float = Field(ge=0, description="Match score; higher is better.")


class KbSuggested(Event):
    """Articles suggested for a new ticket, for the customer and the agent.

    Produced by: kb. Consumed by: notifier (agent console), the customer portal.
    """

    event_type: Literal["kb.suggested"] = Field(
        default="kb.suggested", description="Discriminator."
    )
    ticket_id: str = Field(description="The ticket the suggestions are for.")
    language: str | None = Field(default=None, description="Language matched in.")
    articles: list[ArticleMatch] = Field(description="Best matches first; may be empty.")


class KbSearched(Event):
    """Someone searched the knowledge base.

    Produced by: kb. Consumed by: kb analytics.
    """

    topic_key: ClassVar[str] = "query_id"

    event_type: Literal["kb.searched"] = Field(default="kb.searched", description="Discriminator.")
    query_id: str = Field(description="Id of the search.")
    query: str = Field(description="What was searched for.")
    language: str | None = Field(default=None, description="Language of the query.")
    result_count: int = Field(ge=0, description="How many articles were found.")


class KbFeedback(Event):
    """A reader said whether an article helped.

    Produced by: kb. Consumed by: kb analytics.
    """

    topic_key: ClassVar[str] = "article_id"

    event_type: Literal["kb.feedback"] = Field(default="kb.feedback", description="Discriminator.")
    article_id: str = Field(description="The article.")
    helpful: bool = Field(description="Did it solve the problem?")
    comment: str | None = Field(default=None, description="The reader's words.")


KbEvent = Annotated[KbSuggested | KbSearched | KbFeedback, Field(discriminator="event_type")]
