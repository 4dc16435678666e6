"""Chat-tool endpoints managers registered, in MongoDB (collection `webhooks`)."""

from __future__ import annotations

from pydantic import SecretStr
from pymongo.asynchronous.database import AsyncDatabase

from services.notifier.notices import Notice
from services.notifier.webhooks import WebhookTarget
from shared.mongo import Document

COLLECTION = "webhooks"


def _doc(target: WebhookTarget) -> Document:
    doc = target.model_dump(mode="json", exclude={"name", "secret"})
    return {"_id": target.name, **doc, "secret": target.secret.get_secret_value()}


def _target(doc: Document) -> WebhookTarget:
    return WebhookTarget.model_validate(
        {**doc, "name": doc["_id"], "secret": SecretStr(doc["secret"])}
    )


class WebhookStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._targets = db[COLLECTION]

    async def put(self, target: WebhookTarget) -> None:
        await self._targets.replace_one({"_id": target.name}, _doc(target), upsert=True)

    async def get(self, name: str) -> WebhookTarget | None:
        doc = await self._targets.find_one({"_id": name})
        return _target(doc) if doc else None

    async def delete(self, name: str) -> bool:
        result = await self._targets.delete_one({"_id": name})
        return result.deleted_count == 1

    async def all(self) -> list[WebhookTarget]:
        return [_target(doc) async for doc in self._targets.find({}).sort("_id", 1)]

    async def for_notice(self, notice: Notice) -> list[WebhookTarget]:
        """The active endpoints that want this notice (by its team and kind)."""
        return [t for t in await self.all() if t.wants(notice)]
