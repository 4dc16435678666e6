"""The generated articles and queries of `make bench-kb`: repeatable, balanced, within bounds."""

from __future__ import annotations

import random
from collections import Counter

from bench.kb_data import CATEGORIES, CONTENT, FUNCTION, articles, queries, typo
from services.kb.domain.analysis import LANGUAGES, ZWNJ


def test_the_same_seed_gives_the_same_articles_and_queries() -> None:
    assert articles(200, seed=3) == articles(200, seed=3)
    assert queries(200, seed=3) == queries(200, seed=3)
    assert articles(200, seed=3) != articles(200, seed=4)
    assert queries(200, seed=3) != queries(200, seed=4)


def test_articles_are_a_quarter_in_each_language_with_unique_ids() -> None:
    made = articles(400, seed=0)
    assert Counter(a.language for a in made) == dict.fromkeys(LANGUAGES, 100)
    assert len({a.article_id for a in made}) == 400


def test_article_fields_stay_within_their_bounds() -> None:
    for article in articles(400, seed=1):
        words = CONTENT[article.language]
        assert 4 <= len(article.title.split()) <= 10
        assert 60 <= len(article.body.split()) <= 150
        assert 2 <= len(set(article.tags)) == len(article.tags) <= 4
        assert all(tag in words for tag in article.tags)
        assert article.category in CATEGORIES
        assert article.body.endswith(".")


def test_vocabularies_hold_hundreds_of_words_persian_compounds_and_greek_accents() -> None:
    for language in LANGUAGES:
        assert len(CONTENT[language]) >= 200
        assert FUNCTION[language]
    assert sum(ZWNJ in word for word in CONTENT["fa"]) >= 20
    assert "κωδικός" in CONTENT["el"]
    assert {"пароль", "пароля", "паролей"} <= set(CONTENT["ru"])


def test_queries_mix_short_and_long_some_with_a_typo() -> None:
    made = queries(2000, seed=0)
    sizes = Counter(len(q.text.split()) for q in made)
    assert set(sizes) == {1, 2, 3, 4, 5}
    short = (sizes[1] + sizes[2]) / len(made)
    assert 0.35 < short < 0.45
    typos = [q for q in made if q.typo]
    assert 0.05 < len(typos) / len(made) < 0.2
    assert all(q.language in LANGUAGES for q in made)
    # A query without a typo asks for words the articles are written in.
    for query in made[:200]:
        if not query.typo:
            assert all(word in CONTENT[query.language] for word in query.text.split())


def test_a_typo_changes_a_long_word_by_one_slip() -> None:
    rng = random.Random(0)
    for _ in range(200):
        slipped = typo("password", rng)
        assert slipped != "password"
        assert abs(len(slipped) - len("password")) <= 1
    assert typo("wifi", rng) == "wifi"
