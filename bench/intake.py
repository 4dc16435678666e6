"""`python -m bench.intake`: the email normaliser beside a bare standard-library parse.

Both read the same mix of messages (the mail corpus, repeated with varied ids to N) in the same
run: the baseline is `BytesParser(policy=default).parsebytes` plus `get_body().get_content()`,
the service is `normalise_email` (charsets, HTML, quotes, signatures, attachments, automatic
mail). The ratio says what the normalisation costs over the bare parse. No broker, no database.

A second section reads hostile mail (tests/corpus/mail/hostile.py: long lines, deep nesting,
thousands of parts, huge headers, in en, fa, ru and el) and prints each message's time per
100 kB, normaliser beside bare parse, and the normaliser's worst figure: a time that grows
faster than the size shows up there as a figure that grows with --hostile-size.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from email import policy
from email.parser import BytesParser
from pathlib import Path

import yaml

from services.intake.mail import MailLimits, normalise_email
from tests.corpus.mail.hostile import hostile_mails

CORPUS = Path(__file__).parents[1] / "tests" / "corpus" / "mail"
LIMITS = MailLimits(max_attachment_bytes=1000)
PER_MESSAGE_MS = 100  # what one message may take, up to the configured size limit


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
    try:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        body = msg.get_body(("plain", "html"))
        if body is not None:
            body.get_content()
    except (LookupError, KeyError, ValueError, RecursionError):
        # An unknown charset, a broken part, or (hostile mail) nesting deeper than the
        # parser's recursion: the bare parse stops there, and its time until then counts.
        pass


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


def best_time(run: Callable[[bytes], None], raw: bytes, rounds: int) -> float:
    """The fastest of `rounds` runs on one message, in milliseconds."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        run(raw)
        best = min(best, (time.perf_counter() - start) * 1000)
    return best


def size_limit() -> int:
    """The configured size limit of one message, in bytes."""
    rules = yaml.safe_load((Path(__file__).parents[1] / "config" / "intake.yaml").read_text())
    return int(rules["mail"]["max_message_mb"] * 1024 * 1024)


def hostile_section(size: int, rounds: int, bare_too: bool = True) -> None:
    """Each hostile message's time, whole and per 100 kB, normaliser and bare parse, worst
    first; and the slowest message beside the limit of 100 ms per message. Without
    `bare_too` the bare parse is left out: on deep nesting it is quadratic, minutes at 25 MB."""
    say(f"hostile mail of about {size:,} bytes each, best of {rounds} round(s)")
    rows: list[tuple[str, float, float, float, int]] = []
    for name, raw in hostile_mails(size).items():
        per_100k = 100_000 / len(raw)
        bare = best_time(bare_parse, raw, rounds) if bare_too else float("nan")
        norm = best_time(normalise, raw, rounds)
        rows.append((name, norm * per_100k, bare * per_100k, norm, len(raw)))
        if not bare_too:
            say(f"  {name}: {norm:,.1f} ms")
    rows.sort(key=lambda row: -row[3])
    table: list[tuple[str, ...]] = [
        ("input", "normalise ms", "per 100 kB", "bare parse per 100 kB", "ratio")
    ]
    table += [(n, f"{m:,.1f}", f"{a:,.2f}", f"{b:,.2f}", f"{a / b:.1f}x") for n, a, b, m, _ in rows]
    if not bare_too:
        table = [row[:3] for row in table]
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for r in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)), flush=True)
    slowest = rows[0]
    say(
        f"slowest message: {slowest[3]:,.1f} ms ({slowest[0]}, {slowest[4]:,} bytes); "
        f"limit {PER_MESSAGE_MS} ms per message: {slowest[3] / PER_MESSAGE_MS:.2f}x of it"
    )
    if not bare_too:
        return
    worst, bare_worst = max(rows, key=lambda row: row[1]), max(rows, key=lambda row: row[2])
    say(
        f"worst normalise time per 100 kB: {worst[1]:,.2f} ms ({worst[0]}; bare parse of it "
        f"{worst[2]:,.2f} ms); worst bare parse per 100 kB: {bare_worst[2]:,.2f} ms "
        f"({bare_worst[0]})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.intake", description=__doc__)
    parser.add_argument("--messages", type=int, default=2000, help="messages in the mix")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the mix, best counts")
    parser.add_argument(
        "--hostile-size", type=int, default=100_000, help="bytes of each hostile message"
    )
    parser.add_argument(
        "--at-limit",
        action="store_true",
        help="hostile messages just under the size limit (config/intake.yaml max_message_mb)",
    )
    parser.add_argument("--hostile-rounds", type=int, default=3, help="runs per hostile message")
    parser.add_argument(
        "--only", choices=("mix", "hostile"), help="run one section (default: both)"
    )
    args = parser.parse_args()
    if args.only != "mix":
        normalise(messages(1)[0])  # first call pays for imports and regex compilation
        size = size_limit() * 95 // 100 if args.at_limit else args.hostile_size
        hostile_section(size, args.hostile_rounds, bare_too=not args.at_limit)
    if args.only != "hostile":
        mix_section(args.messages, args.rounds)


def mix_section(count: int, rounds: int) -> None:
    """The corpus mix: messages per second and per-message percentiles beside the bare parse."""
    mix = messages(count)
    size = sum(len(raw) for raw in mix) / len(mix)
    say(f"{len(mix)} messages, {size:,.0f} bytes on average, {rounds} rounds each")
    normalise(mix[0])  # first call pays for imports and regex compilation
    bare_rate, bare_each = timed(bare_parse, mix, rounds)
    say("bare parse done")
    norm_rate, norm_each = timed(normalise, mix, rounds)
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
