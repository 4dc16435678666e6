"""`python -m services.router.train`: measure the ticket classifier on held-out examples, then
train it on all of them and save it where the router loads it from."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from services.router.classifier import (
    EvaluationReport,
    LanguageFigures,
    TextClassifier,
    evaluate,
)
from services.router.config import CATEGORIES, load_examples
from services.router.domain.categories import CategoryTree
from shared.config import ConfigError, load_yaml


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m services.router.train",
        description="Evaluate the ticket classifier on a held-out split, then train and save it.",
    )
    parser.add_argument("--config-dir", type=Path, default=Path("config"), help="default: config")
    parser.add_argument("--model", type=Path, help="where to save the model (default: not saved)")
    parser.add_argument("--test-share", type=float, default=0.25, help="held out, default 0.25")
    parser.add_argument("--seed", type=int, default=0, help="split and training seed, default 0")
    return parser


def format_report(report: EvaluationReport, threshold: float) -> str:
    """The held-out figures as a table, one row per language and one for all."""
    header = f"{'language':<10}{'n_train':>8}{'n_test':>8}{'model':>8}{'+rules':>8}"

    def row(figures: LanguageFigures) -> str:
        combined = "" if figures.combined_accuracy is None else f"{figures.combined_accuracy:.3f}"
        return (
            f"{figures.language:<10}{figures.n_train:>8}{figures.n_test:>8}"
            f"{figures.accuracy:>8.3f}{combined:>8}"
        )

    lines = [header, "-" * len(header), *map(row, report.languages), "-" * len(header)]
    lines.append(row(report.overall))
    lines.append(f"macro-F1 of the model: {report.macro_f1:.3f}")
    if report.uncategorised_share is not None:
        lines.append(
            f"uncategorised with rules (below threshold {threshold:.2f}): "
            f"{report.uncategorised_share:.1%}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        tree = load_yaml(args.config_dir / CATEGORIES, CategoryTree)
        examples_dir = args.config_dir / tree.classification.examples_dir
        examples = load_examples(examples_dir, tree.labels)
        report = evaluate(examples, test_share=args.test_share, seed=args.seed, tree=tree)
    except (ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(examples)} examples from {examples_dir}")
    missing = sorted(set(tree.labels) - {e.label for e in examples})
    if missing:
        print(f"labels with no examples (the model never predicts them): {', '.join(missing)}")
    print(f"held out {args.test_share:.0%} of each language and label (seed {args.seed}):")
    print(format_report(report, tree.classification.threshold))
    started = time.perf_counter()
    model = TextClassifier.train(examples, seed=args.seed)
    print(f"trained on all {len(examples)} examples in {time.perf_counter() - started:.1f} s")
    if args.model is None:
        print("model not saved (give --model PATH to save it)")
    else:
        model.save(args.model)
        print(f"model saved to {args.model}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
