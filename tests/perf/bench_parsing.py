"""Parser speed on hostile replies: every parser, both modes, 1 MB of text, next to a plain scan.

A reward runs on every rollout of every training step and the Space parses whatever a visitor types,
so a parser must be linear in the reply's length. This prints, for each hostile 1 MB reply, the time of
each parser in each mode next to the floor: one ``re.findall(r"\\d+")`` pass over the same text (the
cheapest scan any parser has to make). The old lenient interval pattern took 66.6 s on a 16,000-digit
reply; the goal is under 50 ms per parser on 1 MB.

Run::

    python tests/perf/bench_parsing.py [--size 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from videossr.parsing import parse_counts, parse_interval, parse_order

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for the shared hostile inputs
from _hostile import hostile_replies  # noqa: E402

PARSERS = {
    "interval": lambda text, mode: parse_interval(text, mode),
    "counts": lambda text, mode: parse_counts(text, mode),
    "order": lambda text, mode: parse_order(text, 6, mode),
}


def best_of(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return 1000 * best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--budget-ms", type=float, default=50.0)
    args = parser.parse_args(argv)
    digits = re.compile(r"\d+")
    columns = [f"{p} {m}" for p in PARSERS for m in ("strict", "lenient")]
    print(f"milliseconds per call on {args.size:,}-character replies (best of {args.repeat})\n")
    print("| reply | floor: findall(\\d+) | " + " | ".join(columns) + " |")
    print("|---|---:|" + "---:|" * len(columns))
    worst = 0.0
    for name, text in hostile_replies(args.size).items():
        floor = best_of(lambda text=text: digits.findall(text), args.repeat)
        cells = []
        for fn in PARSERS.values():
            for mode in ("strict", "lenient"):
                ms = best_of(lambda fn=fn, text=text, mode=mode: fn(text, mode), args.repeat)
                worst = max(worst, ms)
                cells.append(f"{ms:.1f}")
        print(f"| {name} | {floor:.1f} | " + " | ".join(cells) + " |")
    print(f"\nslowest parser call: {worst:.1f} ms (budget {args.budget_ms:.0f} ms)")
    return 0 if worst <= args.budget_ms else 1


if __name__ == "__main__":
    sys.exit(main())
