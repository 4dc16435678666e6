"""Ranking quality measures for the knowledge-base evaluation: nDCG@k and reciprocal rank.

Relevance is graded: 2 the article answers the query, 1 it answers part of it, 0 (or absent)
it does not. Both measures take the ranked article ids a search returned, best first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def _distinct(ranked: Sequence[str]) -> list[str]:
    # An article found twice (say, in two fields or languages) is read once by the customer.
    return list(dict.fromkeys(ranked))


def dcg(grades: Sequence[int]) -> float:
    """Discounted cumulative gain: the grade at rank r counts `grade / log2(r + 1)`."""
    return sum(grade / math.log2(rank + 1) for rank, grade in enumerate(grades, 1))


def ndcg_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    """DCG of the first `k` results over the DCG of the best ranking the labels allow (0..1).

    The gain is the grade itself (linear), the discount the standard `log2(rank + 1)`.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    ideal = dcg(sorted((g for g in relevant.values() if g > 0), reverse=True)[:k])
    if ideal == 0:
        raise ValueError("a query needs at least one relevant article to be measured")
    found = dcg([relevant.get(article_id, 0) for article_id in _distinct(ranked)[:k]])
    return found / ideal


def reciprocal_rank(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    """1 / rank of the first result of grade 1 or more within the first `k`; 0 when none is."""
    for rank, article_id in enumerate(_distinct(ranked)[:k], 1):
        if relevant.get(article_id, 0) >= 1:
            return 1.0 / rank
    return 0.0
