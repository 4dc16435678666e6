"""The JSON the customer portal's API answers with (and the sign-in request it takes)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SignIn(BaseModel):
    email: str = Field(min_length=3, max_length=320, description="An address the desk knows.")


class SignInAccepted(BaseModel):
    detail: str = Field(
        default="If the address is known to us, a sign-in link is on its way.",
        description="The same words whether the address is known or not.",
    )


class SignedOut(BaseModel):
    detail: str = "signed out"


class Me(BaseModel):
    customer_id: str
    name: str | None = Field(description="The name the customer gave, if any.")
    language: str | None = Field(description="The language of their newest ticket, if known.")
    identities: list[str] = Field(description="The customer's own addresses and numbers.")
    csrf_token: str = Field(description="Send it as `X-CSRF-Token` on every change.")


class TicketLine(BaseModel):
    ticket_id: str
    reference: str | None
    subject: str
    status: str | None
    channel: str | None
    opened_at: str | None
    updated_at: str | None


class FileShown(BaseModel):
    filename: str
    size: int


class Message(BaseModel):
    author: str = Field(description="`customer` or `agent`.")
    name: str | None = Field(
        description="The agent's name (else `Support`); none for the customer."
    )
    body: str
    channel: str | None
    at: str | None
    attachments: list[FileShown]


class SurveyLink(BaseModel):
    link: str = Field(
        description="The survey's page; `?score=1` to `?score=5` answer in one click."
    )
    expires_at: str | None


class TicketView(TicketLine):
    language: str | None
    messages: list[Message]
    survey: SurveyLink | None = Field(description="A satisfaction survey still open, if any.")


class SurveyAnswer(BaseModel):
    score: int = Field(ge=1, le=5, description="1 (very unhappy) to 5 (very happy).")
    comment: str | None = Field(default=None, max_length=2_000, description="In their words.")


class SurveyAnswered(BaseModel):
    answered: bool = True


class Replied(BaseModel):
    contact_id: str = Field(description="The contact the reply entered as.")
