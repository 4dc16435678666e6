"""Satisfaction surveys: an email ticket's customer is mailed one threaded survey in their
language, with a one-click link per score; a chat ticket's survey is left to the chat adapter."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.events import SurveyOffered
from shared.ids import derived_id
from tests.conftest import eventually
from tests.handler.intake.support import Desk, mime

LINK = "https://help.example/survey/t0k3n"


async def send(desk: Desk, offer: SurveyOffered) -> None:
    await desk.broker.publish(offer.model_dump(mode="json"), desk.settings.topics.insights)


def survey_for(opened: dict[str, Any], language: str) -> SurveyOffered:
    return SurveyOffered(
        ticket_id=opened["ticket_id"],
        reference=opened["reference"],
        customer_id=opened["customer_id"],
        channel=opened["channel"],
        language=language,
        link=LINK,
        expires_at=datetime.now(UTC) + timedelta(days=14),
    )


async def test_an_email_ticket_gets_one_threaded_survey_in_its_language(desk: Desk) -> None:
    accepted = await desk.post_mail(
        mime(subject="Интернет не работает", body="Со вчерашнего дня нет интернета дома, "
             "роутер перезагружал несколько раз.", message_id="<ru1@mail.example>")
    )  # fmt: skip
    assert accepted.status_code == 202, accepted.text
    opened = desk.events("ticket.opened")[-1]
    offer = survey_for(opened, "ru")

    await send(desk, offer)
    await send(desk, offer)  # redelivered

    (mail,) = await eventually(lambda: desk.mail.messages)
    assert mail["To"] == "ana@example.com"
    assert mail["In-Reply-To"] == "<ru1@mail.example>"
    assert f"[#{opened['reference']}]" in mail["Subject"]
    assert str(derived_id("survey-mail", offer.event_id)) in mail["Message-ID"]
    assert mail["Content-Language"] == "ru"
    body = mail.get_content()
    assert "Насколько вы довольны" in body
    assert [f"{LINK}?score={n}" in body for n in range(1, 6)] == [True] * 5
    assert len(desk.mail.messages) == 1 and desk.letters == []


async def test_a_chat_ticket_is_not_mailed(desk: Desk) -> None:
    await desk.contact({"channel": "chat", "chat_user_id": "w-9", "text": "Router down",
                        "conversation_id": uuid.uuid4().hex})  # fmt: skip
    opened = desk.events("ticket.opened")[-1]
    await send(desk, survey_for(opened, "en"))
    assert desk.mail.messages == [] and desk.letters == []
