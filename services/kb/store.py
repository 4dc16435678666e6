"""The knowledge base's MongoDB adapter: articles, behind a Protocol."""

from __future__ import annotations

from typing import Protocol

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from services.kb.domain import Article
from shared.mongo import Document, Indexes


class ArticleStore(Protocol):
    async def upsert(self, articles: list[Article]) -> None: ...
    async def all(self) -> list[Article]: ...


class MongoArticleStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._articles = db["articles"]

    @staticmethod
    def indexes() -> list[Indexes]:
        return [Indexes("articles", [IndexModel([("language", ASCENDING)])])]

    async def upsert(self, articles: list[Article]) -> None:
        for article in articles:
            doc = article.model_dump()
            await self._articles.replace_one({"_id": article.article_id}, doc, upsert=True)

    async def all(self) -> list[Article]:
        return [Article.model_validate(doc) async for doc in self._articles.find({}, {"_id": 0})]
