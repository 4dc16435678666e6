"""Customers' answers to satisfaction surveys, behind the signed link (a part of
`InsightsService`)."""

from __future__ import annotations

from services.insights.config import InsightsRules
from services.insights.domain.surveys import Survey, SurveyClosed, answer
from services.insights.outlets import Outlets
from services.insights.store import InsightsStore
from shared.agent_tokens import BadToken, TokenKeys
from shared.clock import Clock
from shared.events import TicketCsatReceived
from shared.ids import derived_id


class BadLink(Exception):
    """A survey link that is forged, expired, or not configured on this service."""


class SurveyBusy(Exception):
    """Another answer to the same survey was being saved at the same moment."""


class SurveyCases:
    store: InsightsStore
    rules: InsightsRules
    clock: Clock
    survey_keys: TokenKeys | None
    outlets: Outlets | None

    def ticket_of(self, token: str) -> str:
        """The ticket a survey link is for."""
        if self.survey_keys is None:
            raise BadLink("surveys are not configured on this service (no token secret)")
        try:
            return self.survey_keys.verify(token, self.clock.now())
        except BadToken as exc:
            raise BadLink(f"this survey link does not work: {exc}") from exc

    async def survey_of(self, ticket_id: str) -> Survey:
        survey = await self.store.survey(ticket_id)
        if survey is None:
            raise SurveyClosed("no survey was offered for this link")
        return survey

    async def answer(self, ticket_id: str, score: int, comment: str | None) -> Survey:
        """Record the customer's answer and publish it as `ticket.csat_received`."""
        now = self.clock.now()
        survey = await self.survey_of(ticket_id)
        answered = answer(survey, score, comment, now, self.rules.surveys.changeable_for)
        event = TicketCsatReceived(
            # The n-th answer has one id: two clicks saved as one answer publish one event.
            event_id=derived_id("insights-csat", ticket_id, answered.answers),
            ticket_id=ticket_id,
            customer_id=survey.customer_id,
            score=score,
            comment=answered.comment,
            occurred_at=now,
        )
        if self.outlets is not None:
            # Published before it is saved: a failure in between leaves the customer's click
            # to be repeated, never an answer saved that nobody hears of.
            await self.outlets.tickets.publish(event)
        if not await self.store.answer_survey(answered, survey.answers):
            raise SurveyBusy("another answer to this survey was saved at the same moment")
        return answered
