"""Composition root of the knowledge-base service."""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient

from services.kb import http
from services.kb.domain import ArticleFile, ArticleIndex
from services.kb.handlers import KbState, register
from services.kb.settings import KbSettings
from services.kb.store import ArticleStore, MongoArticleStore
from shared.broker import make_broker
from shared.config import load_yaml
from shared.idempotency import ProcessedEvents
from shared.mongo import Document, make_mongo_client
from shared.runtime import Service, new_http_app


def build_app(
    settings: KbSettings | None = None,
    *,
    broker: KafkaBroker | None = None,
    mongo: AsyncMongoClient[Document] | None = None,
    store: ArticleStore | None = None,
) -> Service:
    settings = settings or KbSettings()
    broker = broker or make_broker(settings)
    mongo = mongo or make_mongo_client(settings.mongo)
    db = mongo[settings.database_name]
    articles: ArticleStore = store or MongoArticleStore(db)
    state = KbState(index=ArticleIndex([]), processed=ProcessedEvents(db))
    register(broker, settings, state)
    service = Service(
        settings=settings,
        broker=broker,
        mongo=mongo,
        http=new_http_app("Help desk: knowledge base", "Articles, search and suggestions."),
    )
    service.http.include_router(http.routes(state))

    async def load_articles() -> None:
        seed = load_yaml(settings.config_dir / "kb" / "articles.yaml", ArticleFile)
        await articles.upsert(seed.articles)
        state.index = ArticleIndex(await articles.all())

    service.require_indexes(*MongoArticleStore.indexes())
    service.on_start.append(load_articles)
    return service
