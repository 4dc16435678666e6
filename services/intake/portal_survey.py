"""Answering a ticket's satisfaction survey from the portal: the score goes to the survey's own
signed link (insights' `POST /survey/{token}`), exactly as the mailed survey's form sends it,
so the portal keeps no second copy of how a survey is answered."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from shared.logging import get_logger

log = get_logger(__name__)

#: Sends (link, score, comment) to the survey's link; the HTTP status it answered.
AnswerSurvey = Callable[[str, int, str | None], Awaitable[int]]


class SurveyUnavailable(RuntimeError):
    """The survey service could not be reached or failed: nothing was recorded."""


class SurveyClosed(LookupError):
    """No survey is open on the ticket (none offered, expired, or the link refused)."""


@dataclass
class SurveyForm:
    """Posts the survey's form to its link, over `transport` (tests pass a mock one)."""

    timeout: float = 10.0
    transport: httpx.AsyncBaseTransport | None = None

    async def __call__(self, link: str, score: int, comment: str | None) -> int:
        form = {"score": str(score), **({"comment": comment} if comment else {})}
        try:
            async with httpx.AsyncClient(transport=self.transport, timeout=self.timeout) as http:
                answer = await http.post(link, data=form)
        except httpx.HTTPError as exc:
            log.warning("portal.survey_unreachable", error=type(exc).__name__)
            raise SurveyUnavailable("the survey service did not answer; try again later") from exc
        return answer.status_code


async def answer_survey(send: AnswerSurvey, link: str, score: int, comment: str | None) -> None:
    """Answer the survey at `link`; raises SurveyClosed or SurveyUnavailable saying why not."""
    status = await send(link, score, comment)
    if status in (401, 404, 409):
        raise SurveyClosed("this survey can no longer be answered")
    if status >= 300:
        log.warning("portal.survey_refused", status=status)
        raise SurveyUnavailable("the survey service refused the answer; try again later")
