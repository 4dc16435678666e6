"""`python -m bench.intake`: the email normaliser beside a bare standard-library parse.

Both read the same mix of messages (the mail corpus, repeated with varied ids to N) in the same
run: the baseline is `BytesParser(policy=default).parsebytes` plus `get_body().get_content()`,
the service is `normalise_email` (charsets, HTML, quotes, signatures, attachments, automatic
mail). The ratio says what the normalisation costs over the bare parse. No broker, no database.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from email import policy
from email.parser import BytesParser
from pathlib import Path

from services.intake.mail import MailLimits, normalise_email

CORPUS = Path(__file__).parents[1] / "tests" / "corpus" / "mail"
LIMITS = MailLimits(max_attachment_bytes=1000)


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def messages(count: int) -> list[bytes]:
    """The corpus repeated to `count`, each copy with its own sequence header and Message-ID."""
    samples = [p.read_bytes() for p in sorted(CORPUS.glob("*.eml"))]
    mix = []
    for i in range(count):
        raw = samples[i % len(samples)]
        raw = raw.replace(b"<m1@example.com>", f"<m{i}@bench.example>".encode())
        mix.append(f"X-Bench-Seq: {i}\r\n".encode() + raw)
    return mix


def bare_parse(raw: bytes) -> None:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    try:
        body = msg.get_body(("plain", "html"))
        if body is not None:
            body.get_content()
    except (LookupError, KeyError, ValueError):
        pass  # an unknown charset or a broken part: the bare parse just stops there


def normalise(raw: bytes) -> None:
    normalise_email(raw, LIMITS)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def timed(run: Callable[[bytes], None], mix: list[bytes], rounds: int) -> tuple[float, list[float]]:
    """Best messages/second over the rounds, and every per-message time in milliseconds."""
    best = 0.0
    each: list[float] = []
    for _ in range(rounds):
        start = time.perf_counter()
        for raw in mix:
            before = time.perf_counter()
            run(raw)
            each.append((time.perf_counter() - before) * 1000)
        best = max(best, len(mix) / (time.perf_counter() - start))
    return best, each


def print_table(rows: list[tuple[str, ...]]) -> None:
    header = ("metric", "normalise", "bare parse", "ratio")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.intake", description=__doc__)
    parser.add_argument("--messages", type=int, default=2000, help="messages in the mix")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the mix, best counts")
    args = parser.parse_args()
    mix = messages(args.messages)
    size = sum(len(raw) for raw in mix) / len(mix)
    say(f"{len(mix)} messages, {size:,.0f} bytes on average, {args.rounds} rounds each")
    normalise(mix[0])  # first call pays for imports and regex compilation
    bare_rate, bare_each = timed(bare_parse, mix, args.rounds)
    say("bare parse done")
    norm_rate, norm_each = timed(normalise, mix, args.rounds)
    say("normalise done")

    def row(name: str, norm: float, bare: float, fmt: str) -> tuple[str, ...]:
        return (name, format(norm, fmt), format(bare, fmt), f"{norm / bare:.2f}x")

    print_table(
        [
            row("messages/second", norm_rate, bare_rate, ",.0f"),
            row(
                "p50 per message (ms)",
                percentile(norm_each, 0.5),
                percentile(bare_each, 0.5),
                ".3f",
            ),
            row(
                "p99 per message (ms)",
                percentile(norm_each, 0.99),
                percentile(bare_each, 0.99),
                ".3f",
            ),
        ]
    )
    say(f"normalise runs at {norm_rate / bare_rate:.0%} of the bare parse rate")


if __name__ == "__main__":
    main()
