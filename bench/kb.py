"""`make bench-kb`: the knowledge base's search at 100,000 articles, beside plain BM25.

Both index the same generated articles (`bench.kb_data`: en, fa, ru, el, a quarter each) in
the same run, then answer the same queries. Ours is `services.kb.search.SearchIndex` (folding,
stemming, title boost, typo tolerance for short queries, snippets); the baseline is
`bench.kb_baseline.PlainBM25` (tantivy's default analysis, ids only). Indexing is timed from
the first document built to the single commit that makes them all searchable. Each search is
timed alone, after a warm-up. Last, how soon an edited article is found on the loaded index.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from importlib.metadata import version
from unittest import mock

import services.kb.search
from bench.kb_baseline import PlainBM25
from bench.kb_data import Query, articles, queries
from services.kb.domain.articles import Translation
from services.kb.search import SearchIndex

WARMUP = 100


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def resident_bytes() -> int | None:
    """This process's resident memory now (Linux `/proc`), or None where that is not there."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class Build:
    seconds: float
    rate: float
    grown_mb: float | None


def _built(count: int, start: float, before: int | None) -> Build:
    seconds = time.perf_counter() - start
    after = resident_bytes()
    grown = (after - before) / 1e6 if after is not None and before is not None else None
    return Build(seconds, count / seconds, grown)


def build_ours(mix: Sequence[Translation]) -> tuple[SearchIndex, Build]:
    before, start = resident_bytes(), time.perf_counter()
    index = SearchIndex()
    for article in mix:
        index.replace(article.article_id, [article])
    index.commit()
    return index, _built(len(mix), start, before)


def build_plain(mix: Sequence[Translation]) -> tuple[PlainBM25, Build]:
    before, start = resident_bytes(), time.perf_counter()
    index = PlainBM25()
    index.add(mix)
    index.commit()
    return index, _built(len(mix), start, before)


@dataclass(frozen=True)
class Latency:
    """Seconds per query, in the order of the queries, and how many found nothing."""

    seconds: list[float]
    empty: int

    def quantile(self, share: float) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    @property
    def qps(self) -> float:
        return len(self.seconds) / sum(self.seconds)


def timed(search: Callable[[Query], int], mix: Sequence[Query]) -> Latency:
    """Each query's search timed alone; `search` returns the number of hits."""
    for query in mix[:WARMUP]:
        search(query)
    seconds, empty = [], 0
    for query in mix:
        start = time.perf_counter()
        found = search(query)
        seconds.append(time.perf_counter() - start)
        empty += found == 0
    return Latency(seconds, empty)


@contextmanager
def snippets_off() -> Iterator[None]:
    """Searches of ours with the snippet step replaced by an empty string, to isolate its cost."""
    with mock.patch.object(services.kb.search, "snippet", lambda *_, **__: ""):
        yield


def edit_visible(
    index: SearchIndex, mix: Sequence[Translation], edits: int, seed: int
) -> tuple[list[float], list[float]]:
    """Seconds from `replace` to the first search that finds the edit's new word, and of the
    commit alone, for `edits` articles edited one after the other."""
    rng = random.Random(seed)
    visible, commits = [], []
    for n, article in enumerate(rng.sample(list(mix), min(edits, len(mix)))):
        word = f"editmark{n:02d}q"
        edited = replace(article, body=f"{article.body} {word}")
        start = time.perf_counter()
        index.replace(article.article_id, [edited])
        index.commit()
        commits.append(time.perf_counter() - start)
        deadline = start + 30
        while not any(
            h.article_id == article.article_id
            for h in index.search(word, [article.language], limit=10).hits
        ):
            if time.perf_counter() > deadline:
                raise RuntimeError(f"edit of {article.article_id} not found after 30 s")
        visible.append(time.perf_counter() - start)
    return visible, commits


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)), flush=True)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.kb", description=__doc__)
    parser.add_argument("--articles", type=int, default=100_000, help="articles to index")
    parser.add_argument("--queries", type=int, default=2_000, help="queries to time")
    parser.add_argument("--edits", type=int, default=20, help="edits timed until found")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    say(
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"tantivy {version('tantivy')}; {args.articles:,} articles, {args.queries:,} queries"
    )
    start = time.perf_counter()
    corpus = articles(args.articles, args.seed)
    mix = queries(args.queries, args.seed)
    say(f"generated in {time.perf_counter() - start:.1f} s")

    plain, plain_build = build_plain(corpus)
    say(f"plain BM25 indexed {len(plain):,} documents in {plain_build.seconds:.1f} s")
    ours, ours_build = build_ours(corpus)
    say(f"ours indexed {len(ours):,} documents in {ours_build.seconds:.1f} s")

    def search_ours(query: Query) -> int:
        return len(ours.search(query.text, [query.language], limit=10).hits)

    plain_latency = timed(lambda q: len(plain.search(q.text, limit=10)), mix)
    say("plain BM25 searches done")
    ours_latency = timed(search_ours, mix)
    say("our searches done")
    with snippets_off():
        bare_latency = timed(search_ours, mix)
    say("our searches without snippets done")
    visible, commits = edit_visible(ours, corpus, args.edits, args.seed)
    say(f"{args.edits} edits found")

    def memory(build: Build) -> str:
        return "-" if build.grown_mb is None else f"{build.grown_mb:,.0f}"

    def system(name: str, build: Build | None, latency: Latency) -> list[str]:
        indexing = [f"{build.rate:,.0f}", f"{build.seconds:.1f}", memory(build)] if build else []
        return [
            name,
            *(indexing or ["", "", ""]),
            ms(latency.quantile(0.5)),
            ms(latency.quantile(0.99)),
            ms(statistics.fmean(latency.seconds)),
            f"{latency.qps:,.0f}",
            f"{latency.empty:,}",
        ]

    def ratio(ours_value: float, plain_value: float) -> str:
        return f"{ours_value / plain_value:.2f}x"

    print_table(
        (
            "system",
            "index rate (articles/s)",
            "index time (s)",
            "RSS growth (MB)",
            "search p50 ms",
            "p99 ms",
            "mean ms",
            "qps",
            "no hit",
        ),
        [
            system("ours (SearchIndex)", ours_build, ours_latency),
            system("ours, snippets stubbed", None, bare_latency),
            system("plain BM25", plain_build, plain_latency),
            [
                "ours / plain",
                ratio(ours_build.rate, plain_build.rate),
                ratio(ours_build.seconds, plain_build.seconds),
                ratio(ours_build.grown_mb, plain_build.grown_mb)
                if ours_build.grown_mb and plain_build.grown_mb
                else "-",
                ratio(ours_latency.quantile(0.5), plain_latency.quantile(0.5)),
                ratio(ours_latency.quantile(0.99), plain_latency.quantile(0.99)),
                ratio(
                    statistics.fmean(ours_latency.seconds), statistics.fmean(plain_latency.seconds)
                ),
                ratio(ours_latency.qps, plain_latency.qps),
                "",
            ],
        ],
    )
    print()
    kinds: list[tuple[str, Callable[[Query], bool]]] = [
        ("1-2 words (typo tolerant)", lambda q: len(q.text.split()) <= 2),
        ("3-5 words", lambda q: len(q.text.split()) > 2),
        ("with a typo", lambda q: q.typo),
    ]
    rows = []
    for name, pick in kinds:
        chosen = [i for i, q in enumerate(mix) if pick(q)]
        if not chosen:
            continue
        cells = [name, f"{len(chosen):,}"]
        for latency in (ours_latency, bare_latency, plain_latency):
            part = Latency([latency.seconds[i] for i in chosen], 0)
            cells += [ms(part.quantile(0.5)), ms(part.quantile(0.99))]
        rows.append(cells)
    print_table(
        (
            "queries",
            "n",
            "ours p50 ms",
            "ours p99 ms",
            "no snippets p50",
            "no snippets p99",
            "plain p50 ms",
            "plain p99 ms",
        ),
        rows,
    )
    print()
    say(
        f"edit visible on the loaded index (replace + commit + first search that finds it), "
        f"{len(visible)} edits: median {ms(statistics.median(visible))} ms, "
        f"max {ms(max(visible))} ms; commit alone median {ms(statistics.median(commits))} ms"
    )


if __name__ == "__main__":
    main()
