"""What the insights service tells the others: topic `insights`, keyed by ticket id, or by the
agent or manager an event is about."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events.envelope import Event
from shared.events.tickets import Channel

#: Signs of poor service the insights service watches for.
SignalKind = Literal[
    "queue_wait",  # waiting in a queue for an agent beyond the threshold
    "reply_wait",  # waiting for an agent's reply beyond the threshold
    "passed_around",  # transferred more times than the threshold
    "repeat_contact",  # the customer had to write again about the same problem
    "another_channel",  # ... and by another channel than the first time
    "negative_wording",  # an agent's reply with negative, dismissive or rude wording
    "website_only",  # an agent's reply that only sends the customer to the website
    "over_capacity",  # an agent over capacity for a long stretch
    "off_shift",  # an agent working outside their shift for a long stretch
    "low_csat",  # a satisfaction score at or below the threshold
]


class SurveyOffered(Event):
    """A resolved ticket's customer is asked how satisfied they are, after the configured delay.

    Produced by: insights. Consumed by: intake (mails it to email customers, in their language);
    chat adapters (show it in the conversation).
    """

    event_type: Literal["survey.offered"] = Field(
        default="survey.offered", description="Discriminator."
    )
    ticket_id: str = Field(description="The resolved ticket.")
    reference: str | None = Field(default=None, description="The ticket's short reference.")
    customer_id: str | None = Field(default=None, description="The ticket's customer.")
    channel: Channel | None = Field(default=None, description="The ticket's channel.")
    language: str = Field(description="The customer's language (ISO 639-1).")
    link: str = Field(
        description="The signed page of the survey; `?score=1` to `?score=5` answer in one click."
    )
    expires_at: AwareDatetime = Field(description="When the link stops working.")


class SignalRaised(Event):
    """A sign of poor service, for the team's lead to coach on; never shown to the customer.

    Produced by: insights. Consumed by: notifier (tells the team's lead, else its manager).
    """

    topic_key: ClassVar[str] = "subject"

    event_type: Literal["signal.raised"] = Field(
        default="signal.raised", description="Discriminator."
    )
    subject: str = Field(description="What it is about: the ticket id, or the agent id.")
    kind: SignalKind = Field(description="Which sign.")
    team: str | None = Field(default=None, description="The team whose lead is told.")
    agent_id: str | None = Field(default=None, description="The agent concerned, if any.")
    reference: str | None = Field(default=None, description="The ticket's short reference.")
    value: float | None = Field(
        default=None, description="What was measured: seconds, transfers, a score, a share."
    )
    threshold: float | None = Field(default=None, description="The configured threshold.")
    detail: str = Field(description="What happened, in words (a matched phrase, not the text).")


class CategoryLine(BaseModel):
    """One node of the monthly category tree, as a line of the manager's mail."""

    model_config = ConfigDict(frozen=True)

    path: str = Field(description="`category/subcategory/item`.")
    count: int = Field(ge=0, description="Tickets this month.")
    share: float | None = Field(description="Share of the level above (0 to 1).")
    change: int = Field(description="Count minus the month before's.")


class MonthlyReportReady(Event):
    """A manager's monthly category report, on the first working day of the next month.

    Produced by: insights. Consumed by: notifier (mails it to the manager in their language).
    """

    topic_key: ClassVar[str] = "manager_id"

    event_type: Literal["report.monthly_ready"] = Field(
        default="report.monthly_ready", description="Discriminator."
    )
    manager_id: str = Field(description="The manager it is for.")
    month: str = Field(description="`YYYY-MM`, the month reported.")
    teams: list[str] = Field(description="The teams the manager manages.")
    tickets: int = Field(ge=0, description="The teams' tickets opened in the month.")
    previous_tickets: int = Field(ge=0, description="The same for the month before.")
    lines: list[CategoryLine] = Field(description="The tree's nodes, depth first.")
    link: str | None = Field(default=None, description="The report's page.")


InsightsEvent = Annotated[
    SurveyOffered | SignalRaised | MonthlyReportReady, Field(discriminator="event_type")
]
