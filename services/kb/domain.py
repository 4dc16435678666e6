"""Pure knowledge-base logic: articles, a term index over them, and ranking by matched terms."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from shared.text import terms

TITLE_WEIGHT = 2.0


class Article(BaseModel):
    model_config = ConfigDict(frozen=True)

    article_id: str = Field(min_length=1)
    language: str = Field(min_length=2, max_length=8)
    title: str = Field(min_length=1)
    body: str
    tags: list[str] = Field(default_factory=list)


class ArticleFile(BaseModel):
    articles: list[Article]


@dataclass(frozen=True)
class Hit:
    article: Article
    score: float


class ArticleIndex:
    """Scores articles by the rarer query terms they contain (tf-idf, title counted twice)."""

    def __init__(self, articles: list[Article]) -> None:
        self._articles = {a.article_id: a for a in articles}
        self._weights: dict[str, dict[str, float]] = {}
        document_frequency: Counter[str] = Counter()
        for article in articles:
            weights: dict[str, float] = {}
            for term in terms(article.body + " " + " ".join(article.tags)):
                weights[term] = weights.get(term, 0.0) + 1.0
            for term in terms(article.title):
                weights[term] = weights.get(term, 0.0) + TITLE_WEIGHT
            self._weights[article.article_id] = weights
            document_frequency.update(weights.keys())
        total = max(1, len(articles))
        self._idf = {t: math.log(1 + total / df) for t, df in document_frequency.items()}

    def __len__(self) -> int:
        return len(self._articles)

    def search(self, text: str, limit: int) -> list[Hit]:
        query = set(terms(text))
        hits = []
        for article_id, weights in self._weights.items():
            score = sum((1 + math.log(weights[t])) * self._idf[t] for t in query if weights.get(t))
            if score > 0:
                hits.append(Hit(self._articles[article_id], round(score, 4)))
        hits.sort(key=lambda h: (-h.score, h.article.article_id))
        return hits[:limit]
