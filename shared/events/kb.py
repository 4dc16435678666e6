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
    snippet: str | None = Field(
        default=None,
        description="Where the article matched, as HTML: the text escaped, matches in <mark>.",
    )


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


class KbSelfHelpOffered(Event):
    """The customer of a new ticket in a self-help category is offered articles that may solve it.

    Produced by: kb. Consumed by: intake (mails the customer the articles and the link).
    """

    event_type: Literal["kb.self_help_offered"] = Field(
        default="kb.self_help_offered", description="Discriminator."
    )
    ticket_id: str = Field(description="The ticket.")
    reference: str = Field(description="The ticket's short reference, for the customer.")
    language: str = Field(description="Language of the articles (ISO 639-1).")
    category: str = Field(description="The ticket's category, one configured for self-help.")
    articles: list[ArticleMatch] = Field(min_length=1, description="Best matches first.")
    link: str = Field(
        description="The customer's page of these articles, with a 'this solved it' answer."
    )


class KbDeflected(Event):
    """The customer said an offered article solved the problem: the ticket is deflected.

    Produced by: kb (self-help page). Consumed by: intake (resolves the ticket).
    """

    event_type: Literal["kb.deflected"] = Field(
        default="kb.deflected", description="Discriminator."
    )
    ticket_id: str = Field(description="The ticket the customer no longer needs.")
    article_id: str = Field(description="The article that solved it.")
    language: str | None = Field(default=None, description="Language of the article read.")


class KbArticleChanged(Event):
    """An article was created, edited, published, archived or restored.

    Produced by: kb (editor API). Consumed by: every kb replica, which re-reads the article
    from MongoDB and updates its own search index.
    """

    topic_key: ClassVar[str] = "article_id"

    event_type: Literal["kb.article_changed"] = Field(
        default="kb.article_changed", description="Discriminator."
    )
    article_id: str = Field(description="The article.")
    version: int = Field(ge=1, description="The article's version after the change.")
    status: Literal["draft", "published", "archived"] = Field(description="Its status now.")


KbEvent = Annotated[
    KbSuggested | KbSearched | KbFeedback | KbSelfHelpOffered | KbDeflected | KbArticleChanged,
    Field(discriminator="event_type"),
]
