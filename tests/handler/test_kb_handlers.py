"""The knowledge base's subscribers, run in memory with FastStream's TestKafkaBroker."""

from __future__ import annotations

from typing import Any

from faststream.kafka import TestKafkaBroker

from services.kb.app import build_app
from services.kb.settings import KbSettings
from shared.events import KbSuggested, TicketOpened, kb_events


def _opened(subject: str, body: str, **kw: Any) -> TicketOpened:
    return TicketOpened(
        ticket_id="t-1",
        reference="HD-AAAAAA",
        contact_id="c-1",
        customer_id="cu-1",
        channel="email",
        subject=subject,
        body=body,
        **kw,
    )


async def test_new_ticket_gets_suggestions_in_its_language(make_settings: Any) -> None:
    settings = make_settings(KbSettings)
    service = build_app(settings)
    for hook in service.on_start:
        await hook()
    suggested = []

    @service.broker.subscriber(settings.topics.kb)
    async def capture(body: dict[str, Any]) -> None:
        suggested.append(kb_events.validate_python(body))

    async with TestKafkaBroker(service.broker) as broker:
        opened = _opened("Вай-фай", "Wi-Fi постоянно отключается, роутер перезагружал")
        await broker.publish(opened.model_dump(mode="json"), settings.topics.tickets)
        await broker.publish(opened.model_dump(mode="json"), settings.topics.tickets)

    assert len(suggested) == 1
    assert isinstance(suggested[0], KbSuggested)
    assert suggested[0].articles[0].article_id == "ru-wifi-drops"
    assert suggested[0].causation_id == str(opened.event_id)
    await service.mongo.close()


async def test_unparseable_ticket_event_goes_to_dead_letter(make_settings: Any) -> None:
    settings = make_settings(KbSettings)
    service = build_app(settings)
    for hook in service.on_start:
        await hook()
    letters: list[dict[str, Any]] = []

    @service.broker.subscriber(settings.topics.deadletter)
    async def capture(body: dict[str, Any]) -> None:
        letters.append(body)

    async with TestKafkaBroker(service.broker) as broker:
        await broker.publish(
            {"event_type": "ticket.opened", "ticket_id": 5}, settings.topics.tickets
        )
        await broker.publish(b"not json at all", settings.topics.tickets)

    assert len(letters) == 2
    assert letters[0]["reason"].startswith("invalid message")
    assert letters[0]["source_topic"] == settings.topics.tickets
    assert letters[1]["original_value"] == "not json at all"
    await service.mongo.close()
