"""`make eval-kb`: search quality on the labelled queries of eval/kb, nDCG@10 and MRR per language,
our search beside plain BM25 with no language analysis, in the same run.

Every article goes into `SearchIndex()` (our analysis and weighting) and into `PlainBM25()`.
Each query runs three ways: ours with the query's language given (as the customer portal gives
it), ours with the language detected from the query text (as for an email), and the baseline.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bench.kb_baseline import PlainBM25
from bench.kb_metrics import ndcg_at_k, reciprocal_rank
from services.kb.search import SearchIndex, Translation
from shared.config import ConfigError, load_yaml
from shared.language import LanguageDetector

EVAL_DIR = Path(__file__).resolve().parent.parent / "eval" / "kb"
LANGUAGES = ("en", "fa", "ru", "el")
Language = Literal["en", "fa", "ru", "el"]
Grade = Annotated[int, Field(ge=1, le=2)]
Id = Annotated[str, Field(pattern=r"^[a-z]{2}-[a-z0-9-]+$")]


class Article(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    article_id: Id
    language: Language
    title: str = Field(min_length=1)
    body: str = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)
    category: str | None = None


class Query(BaseModel):
    """A query as a customer typed it, and the articles that answer it (2) or part of it (1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    query_id: Id
    language: Language
    text: str = Field(min_length=1)
    relevant: dict[str, Grade] = Field(min_length=1)
    note: str | None = None


def _unique(ids: list[str], what: str) -> None:
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"duplicate {what} ids: {repeated}")


class ArticleSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    articles: list[Article]

    @model_validator(mode="after")
    def _ids_unique(self) -> ArticleSet:
        _unique([a.article_id for a in self.articles], "article")
        return self


class QuerySet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queries: list[Query]

    @model_validator(mode="after")
    def _ids_unique(self) -> QuerySet:
        _unique([q.query_id for q in self.queries], "query")
        return self


@dataclass(frozen=True)
class EvalSet:
    articles: list[Article]
    queries: list[Query]


def load_eval_set(
    articles_path: Path = EVAL_DIR / "articles.yaml",
    queries_path: Path = EVAL_DIR / "queries.yaml",
) -> EvalSet:
    """Both files, validated, every label naming an article of the query's own language."""
    articles = load_yaml(articles_path, ArticleSet).articles
    queries = load_yaml(queries_path, QuerySet).queries
    language_of = {a.article_id: a.language for a in articles}
    for query in queries:
        for article_id in query.relevant:
            if article_id not in language_of:
                raise ConfigError(
                    f"{queries_path}: query {query.query_id} names unknown article {article_id!r}"
                )
            if language_of[article_id] != query.language:
                raise ConfigError(
                    f"{queries_path}: query {query.query_id} ({query.language}) names "
                    f"{article_id!r}, an article in {language_of[article_id]}"
                )
    return EvalSet(articles, queries)


def translation(article: Article) -> Translation:
    return Translation(
        article_id=article.article_id,
        language=article.language,
        title=article.title,
        body=article.body,
        tags=tuple(article.tags),
        category=article.category,
    )


@dataclass(frozen=True)
class Score:
    query: Query
    ndcg: float
    rr: float
    ranked: tuple[str, ...]


Searcher = Callable[[Query], list[str]]


def systems(articles: Sequence[Article], k: int) -> dict[str, Searcher]:
    """The three ways each query is searched, by the name the table shows."""
    ours = SearchIndex()
    for article in articles:
        ours.replace(article.article_id, [translation(article)])
    ours.commit()
    plain = PlainBM25()
    plain.add(translation(a) for a in articles)
    plain.commit()
    detector = LanguageDetector(LANGUAGES)

    def given(query: Query) -> list[str]:
        return [h.article_id for h in ours.search(query.text, [query.language], limit=k).hits]

    def detected(query: Query) -> list[str]:
        language = detector.detect(query.text)
        chosen = [language] if language else None
        return [h.article_id for h in ours.search(query.text, chosen, limit=k).hits]

    def baseline(query: Query) -> list[str]:
        return [article_id for article_id, _ in plain.search(query.text, limit=k)]

    return {
        "ours, language given": given,
        "ours, language detected": detected,
        "plain BM25": baseline,
    }


def evaluate(search: Searcher, queries: Sequence[Query], k: int) -> list[Score]:
    scores = []
    for query in queries:
        ranked = search(query)
        scores.append(
            Score(
                query,
                ndcg_at_k(ranked, query.relevant, k),
                reciprocal_rank(ranked, query.relevant, k),
                tuple(ranked),
            )
        )
    return scores


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)), flush=True)


def report(results: dict[str, list[Score]], k: int) -> None:
    """One block per language and one overall: each system, then ours over the baseline."""
    header = ("", "system", f"nDCG@{k}", "MRR", "queries", f"none relevant in top {k}")
    rows: list[tuple[str, ...]] = [header]
    baseline = "plain BM25"
    for group in (*LANGUAGES, "all"):
        means: dict[str, tuple[float, float]] = {}
        for name, scores in results.items():
            chosen = [s for s in scores if group in ("all", s.query.language)]
            means[name] = (_mean([s.ndcg for s in chosen]), _mean([s.rr for s in chosen]))
            missed = sum(1 for s in chosen if s.rr == 0)
            rows.append(
                (group, name, f"{means[name][0]:.3f}", f"{means[name][1]:.3f}", str(len(chosen)))
                + (str(missed),)
            )
        for name in results:
            if name == baseline:
                continue
            ratios = [
                f"{ours / base:.2f}x" if base else "n/a"
                for ours, base in zip(means[name], means[baseline], strict=True)
            ]
            rows.append((group, f"{name} / baseline", *ratios, "", ""))
        rows.append(("",) * len(header))
    print_table(rows[:-1])


def report_misses(results: dict[str, list[Score]], baseline: str = "plain BM25") -> None:
    """Queries where a system of ours ranks worse than the baseline, to see why."""
    base = {s.query.query_id: s for s in results[baseline]}
    for name, scores in results.items():
        if name == baseline:
            continue
        for s in scores:
            b = base[s.query.query_id]
            if s.ndcg < b.ndcg - 1e-9:
                print(
                    f"{name}: {s.query.query_id} {s.query.text!r} "
                    f"nDCG {s.ndcg:.3f} < {b.ndcg:.3f}; ours {list(s.ranked[:3])}, "
                    f"baseline {list(b.ranked[:3])}, wanted {s.query.relevant}",
                    flush=True,
                )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.kb_eval", description=__doc__)
    parser.add_argument("--articles", type=Path, default=EVAL_DIR / "articles.yaml")
    parser.add_argument("--queries", type=Path, default=EVAL_DIR / "queries.yaml")
    parser.add_argument("--k", type=int, default=10, help="cut-off of nDCG and of the results")
    parser.add_argument(
        "--misses", action="store_true", help="list queries where ours ranks below the baseline"
    )
    args = parser.parse_args(argv)
    try:
        data = load_eval_set(args.articles, args.queries)
    except ConfigError as exc:
        parser.exit(2, f"error: {exc}\n")
    results = {
        name: evaluate(search, data.queries, args.k)
        for name, search in systems(data.articles, args.k).items()
    }
    print(
        f"{len(data.articles)} articles, {len(data.queries)} queries "
        f"({args.articles}, {args.queries}); means over queries",
        flush=True,
    )
    report(results, args.k)
    if args.misses:
        print(flush=True)
        report_misses(results)


if __name__ == "__main__":
    main()
