"""Chat-tool endpoints managers registered, in MongoDB (collection `webhooks`)."""

from __future__ import annotations

from pydantic import SecretStr
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.notifier.domain.chat import WebhookTarget
from shared.mongo import Document

COLLECTION = "webhooks"


def _doc(target: WebhookTarget) -> Document:
    doc = target.model_dump(mode="json", exclude={"name", "secret"})
    return {"_id": target.name, **doc, "secret": target.secret.get_secret_value()}


def _target(doc: Document) -> WebhookTarget:
    return WebhookTarget.model_validate(
        {**doc, "name": doc["_id"], "secret": SecretStr(doc["secret"])}
    )


class MongoWebhooks:
    _webhooks: AsyncCollection[Document]

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._webhooks = db[COLLECTION]

    async def put_webhook(self, target: WebhookTarget) -> None:
        await self._webhooks.replace_one({"_id": target.name}, _doc(target), upsert=True)

    async def webhook(self, name: str) -> WebhookTarget | None:
        doc = await self._webhooks.find_one({"_id": name})
        return _target(doc) if doc else None

    async def delete_webhook(self, name: str) -> bool:
        result = await self._webhooks.delete_one({"_id": name})
        return result.deleted_count == 1

    async def webhooks(self) -> list[WebhookTarget]:
        """Every endpoint (a few per team), read once per batch that calls chat rooms."""
        return [_target(doc) async for doc in self._webhooks.find({}).sort("_id", 1)]
