"""`make eval-kb`: search quality on the labelled queries of eval/kb, nDCG@10 and MRR per language,
our search beside plain BM25 with no language analysis, in the same run.

Every article goes into `SearchIndex()` (our analysis and weighting) and into `PlainBM25()`.
Each query runs three ways: ours with the query's language given (as the customer portal gives
it), ours with the language detected from the query text (as for an email), and the baseline.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from bench.kb_baseline import PlainBM25
from bench.kb_metrics import ndcg_at_k, reciprocal_rank
from services.kb.domain.analysis import script_language
from services.kb.domain.articles import Translation
from services.kb.search import SearchIndex, Tuning
from shared.config import ConfigError, load_yaml
from shared.language import LanguageDetector

EVAL_DIR = Path(__file__).resolve().parent.parent / "eval" / "kb"
LANGUAGES = ("en", "fa", "ru", "el")
Language = Literal["en", "fa", "ru", "el"]
BASELINE = "plain BM25"
Grade = Annotated[int, Field(ge=1, le=2)]
Id = Annotated[str, Field(pattern=r"^[a-z]{2}-[a-z0-9-]+$")]


class Article(BaseModel):
    """A help-desk article in one language, as `SearchIndex` and `PlainBM25` both index it."""

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


def _unique(key: str) -> AfterValidator:
    def check(items: list[Any]) -> list[Any]:
        ids = [getattr(item, key) for item in items]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"duplicate {key}: {repeated}")
        return items

    return AfterValidator(check)


class ArticleSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    articles: Annotated[list[Article], _unique("article_id")]


class QuerySet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queries: Annotated[list[Query], _unique("query_id")]


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
                    queries_path,
                    f"{query.query_id}.relevant",
                    f"names unknown article {article_id!r}",
                )
            if language_of[article_id] != query.language:
                raise ConfigError(
                    queries_path,
                    f"{query.query_id}.relevant",
                    f"({query.language}) names {article_id!r}, an article in "
                    f"{language_of[article_id]}",
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


def systems(
    articles: Sequence[Article], k: int, detector: LanguageDetector, tuning: Tuning
) -> dict[str, Searcher]:
    """The three ways each query is searched, by the name the table shows."""
    ours = SearchIndex(tuning=tuning)
    for article in articles:
        ours.replace(article.article_id, [translation(article)])
    ours.commit()
    plain = PlainBM25()
    plain.add(translation(a) for a in articles)
    plain.commit()

    def given(query: Query) -> list[str]:
        return [h.article_id for h in ours.search(query.text, [query.language], limit=k).hits]

    def detected(query: Query) -> list[str]:
        language = script_language(query.text) or detector.detect(query.text)
        chosen = [language] if language else None
        return [h.article_id for h in ours.search(query.text, chosen, limit=k).hits]

    def baseline(query: Query) -> list[str]:
        return [article_id for article_id, _ in plain.search(query.text, limit=k)]

    return {
        "ours, language given": given,
        "ours, language detected": detected,
        BASELINE: baseline,
    }


def evaluate(search: Searcher, queries: Sequence[Query], k: int) -> list[Score]:
    ranked = [(q, search(q)) for q in queries]
    return [
        Score(q, ndcg_at_k(r, q.relevant, k), reciprocal_rank(r, q.relevant, k), tuple(r))
        for q, r in ranked
    ]


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
    for group in (*LANGUAGES, "all"):
        means: dict[str, tuple[float, float]] = {}
        for name, scores in results.items():
            chosen = [s for s in scores if group in ("all", s.query.language)]
            means[name] = (_mean([s.ndcg for s in chosen]), _mean([s.rr for s in chosen]))
            missed = str(sum(1 for s in chosen if s.rr == 0))
            ndcg, rr = (f"{m:.3f}" for m in means[name])
            rows.append((group, name, ndcg, rr, str(len(chosen)), missed))
        for name in (n for n in results if n != BASELINE):
            ratios = [
                f"{ours / base:.2f}x" if base else "n/a"
                for ours, base in zip(means[name], means[BASELINE], strict=True)
            ]
            rows.append((group, f"{name} / baseline", *ratios, "", ""))
        rows.append(("",) * len(header))
    print_table(rows[:-1])


def report_misses(results: dict[str, list[Score]]) -> None:
    """Queries where a system of ours ranks worse than the baseline, to see why."""
    base = {s.query.query_id: s for s in results[BASELINE]}
    for name in (n for n in results if n != BASELINE):
        for s in results[name]:
            b = base[s.query.query_id]
            if s.ndcg < b.ndcg - 1e-9:
                print(
                    f"{name}: {s.query.query_id} {s.query.text!r} "
                    f"nDCG {s.ndcg:.3f} < {b.ndcg:.3f}; ours {list(s.ranked[:3])}, "
                    f"baseline {list(b.ranked[:3])}, wanted {s.query.relevant}",
                    flush=True,
                )


def tuning_of(settings: Sequence[str]) -> Tuning:
    """`Tuning()` with `name=value` overrides, to see what a weight does to the figures."""
    tuning = Tuning()
    for setting in settings:
        name, _, value = setting.partition("=")
        current = getattr(tuning, name, None)
        if current is None or not value:
            raise ValueError(f"not a tuning setting: {setting!r}")
        tuning = dataclasses.replace(tuning, **{name: type(current)(value)})
    return tuning


def report_detection(detector: LanguageDetector, queries: Sequence[Query]) -> None:
    found = {q.query_id: script_language(q.text) or detector.detect(q.text) for q in queries}
    counts = []
    for language in LANGUAGES:
        mine = [q for q in queries if q.language == language]
        right = sum(1 for q in mine if found[q.query_id] == language)
        counts.append(f"{language} {right}/{len(mine)}")
    print(f"language detected right: {', '.join(counts)}", flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.kb_eval", description=__doc__)
    parser.add_argument("--articles", type=Path, default=EVAL_DIR / "articles.yaml")
    parser.add_argument("--queries", type=Path, default=EVAL_DIR / "queries.yaml")
    parser.add_argument("--k", type=int, default=10, help="cut-off of nDCG and of the results")
    parser.add_argument("--misses", action="store_true", help="queries ours ranks lower")
    tuning_help = "override a weight of services.kb.search.Tuning, e.g. title_boost=1.5"
    parser.add_argument("--tuning", action="append", default=[], help=tuning_help)
    args = parser.parse_args(argv)
    if args.k < 1:
        parser.error("--k must be at least 1")
    try:
        data = load_eval_set(args.articles, args.queries)
        tuning = tuning_of(args.tuning)
    except (ConfigError, ValueError) as exc:
        parser.exit(2, f"error: {exc}\n")
    detector = LanguageDetector(LANGUAGES)
    found = systems(data.articles, args.k, detector, tuning)
    results = {name: evaluate(search, data.queries, args.k) for name, search in found.items()}
    counts = f"{len(data.articles)} articles, {len(data.queries)} queries"
    print(f"{counts} ({args.articles}, {args.queries}), means over queries; {tuning}", flush=True)
    report(results, args.k)
    report_detection(detector, data.queries)
    if args.misses:
        print(flush=True)
        report_misses(results)


if __name__ == "__main__":
    main()
