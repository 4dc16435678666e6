"""The knowledge-base evaluation set in eval/kb: enough articles and labelled queries in every
language, and every label naming an article that exists in the query's own language."""

from collections import Counter
from pathlib import Path

import pytest
import yaml

from bench.kb_eval import EVAL_DIR, LANGUAGES, ArticleSet, QuerySet, load_eval_set
from shared.config import ConfigError, load_yaml

CATEGORIES = Path(__file__).resolve().parents[2] / "config" / "categories.yaml"
ARTICLES = load_yaml(EVAL_DIR / "articles.yaml", ArticleSet).articles
QUERIES = load_yaml(EVAL_DIR / "queries.yaml", QuerySet).queries


def test_every_language_has_thirty_articles_and_twenty_five_queries() -> None:
    articles: Counter[str] = Counter(a.language for a in ARTICLES)
    queries: Counter[str] = Counter(q.language for q in QUERIES)
    for language in LANGUAGES:
        assert articles[language] >= 30, language
        assert queries[language] >= 25, language


def test_ids_are_unique() -> None:
    assert len({a.article_id for a in ARTICLES}) == len(ARTICLES)
    assert len({q.query_id for q in QUERIES}) == len(QUERIES)


def test_every_relevant_article_exists_in_the_querys_language() -> None:
    language_of = {a.article_id: a.language for a in ARTICLES}
    for query in QUERIES:
        assert query.relevant, query.query_id
        for article_id in query.relevant:
            assert language_of.get(article_id) == query.language, (query.query_id, article_id)


def test_every_query_has_an_article_that_answers_it() -> None:
    assert all(2 in q.relevant.values() for q in QUERIES)


def test_article_categories_are_configured_ones() -> None:
    tree = yaml.safe_load(CATEGORIES.read_text(encoding="utf-8"))["categories"]
    known = {c["name"] for c in tree}
    known |= {f"{c['name']}/{s['name']}" for c in tree for s in c.get("subcategories", [])}
    assert {a.category for a in ARTICLES if a.category} <= known


def test_loader_names_a_query_whose_article_is_unknown(tmp_path: Path) -> None:
    queries = tmp_path / "queries.yaml"
    queries.write_text(
        "queries:\n  - {query_id: en-x, language: en, text: wifi, relevant: {en-nope: 2}}\n",
        encoding="utf-8",
    )
    with pytest.raises(
        ConfigError, match=r"en-x\.relevant: names unknown article 'en-nope'"
    ) as caught:
        load_eval_set(EVAL_DIR / "articles.yaml", queries)
    assert (caught.value.file, caught.value.field) == (str(queries), "en-x.relevant")


def test_loader_refuses_duplicate_ids(tmp_path: Path) -> None:
    queries = tmp_path / "queries.yaml"
    line = "  - {query_id: en-x, language: en, text: wifi, relevant: {en-wifi-drops: 2}}\n"
    queries.write_text("queries:\n" + line + line, encoding="utf-8")
    with pytest.raises(ConfigError, match="duplicate query_id"):
        load_eval_set(EVAL_DIR / "articles.yaml", queries)
