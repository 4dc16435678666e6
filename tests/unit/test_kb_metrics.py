"""nDCG@k and reciprocal rank against values computed by hand."""

import math

import pytest

from bench.kb_metrics import dcg, ndcg_at_k, reciprocal_rank

LABELS = {"a": 2, "b": 1}


def test_ideal_ranking_scores_one() -> None:
    assert ndcg_at_k(["a", "b", "x"], LABELS) == pytest.approx(1.0)
    assert reciprocal_rank(["a", "b"], LABELS) == 1.0


def test_swapped_grades_score_by_log2_discount() -> None:
    # DCG = 1/log2(2) + 2/log2(3) = 1 + 1.26186 = 2.26186; ideal = 2 + 1/log2(3) = 2.63093.
    assert ndcg_at_k(["b", "a"], LABELS) == pytest.approx(2.26186 / 2.63093, abs=1e-5)


def test_answer_at_rank_three_with_partial_missing() -> None:
    # DCG = 2/log2(4) = 1.0; ideal = 2.63093 -> 0.38010. First relevant at rank 3.
    assert ndcg_at_k(["x", "y", "a"], LABELS) == pytest.approx(0.38010, abs=1e-5)
    assert reciprocal_rank(["x", "y", "a"], LABELS) == pytest.approx(1 / 3)


def test_partial_answer_counts_for_reciprocal_rank() -> None:
    assert reciprocal_rank(["x", "b", "a"], LABELS) == 0.5


def test_nothing_relevant_scores_zero() -> None:
    assert ndcg_at_k(["x", "y"], LABELS) == 0.0
    assert ndcg_at_k([], LABELS) == 0.0
    assert reciprocal_rank(["x", "y"], LABELS) == 0.0


def test_results_beyond_k_do_not_count() -> None:
    ranked = ["x", "y", "a"]
    assert ndcg_at_k(ranked, LABELS, k=2) == 0.0
    assert reciprocal_rank(ranked, LABELS, k=2) == 0.0


def test_ideal_is_cut_at_k_too() -> None:
    # Three answers labelled, k=1: the ideal is the single best grade, 2.
    labels = {"a": 2, "b": 2, "c": 2}
    assert ndcg_at_k(["b"], labels, k=1) == 1.0


def test_an_article_repeated_in_the_ranking_counts_once() -> None:
    # Read as [a, x]: DCG = 2, ideal = 2.63093.
    assert ndcg_at_k(["a", "a", "x"], LABELS) == pytest.approx(2 / 2.63093, abs=1e-5)


def test_dcg_uses_linear_gain() -> None:
    assert dcg([2, 0, 1]) == pytest.approx(2 + 1 / math.log2(4))


def test_query_without_relevant_articles_is_refused() -> None:
    with pytest.raises(ValueError, match="relevant"):
        ndcg_at_k(["a"], {})
    with pytest.raises(ValueError, match="k must"):
        ndcg_at_k(["a"], LABELS, k=0)
