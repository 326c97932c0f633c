"""Fidelity check: the ``random`` baseline against the paper's random-guess row of Table 1.

The random baseline never looks at the frames, so its score depends only on the ground truths. With
few real videos offline, the ground truths here come from the real generator run on the real sample
videos (small frames, many seeds): ``per_subtype`` questions per subtype, scored through the harness.

Run::

    python tests/perf/fidelity_random.py --per-subtype 300

It prints, per Table 1 column, the paper's number, ours, the standard error of ours, and whether the
gap is within 3 standard errors (the expected score of the paper's uniform rules is also given). The
maths lives in :mod:`videossr.evaluation.fidelity`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from videossr.evaluation.fidelity import random_fidelity
from videossr.tasks import RANDOM_RULES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-subtype", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rule", choices=RANDOM_RULES, default="uniform", help="the random backend's rule")
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rows = random_fidelity(args.per_subtype, args.seed, args.rule)
    print(f"random baseline (rule {args.rule}), {args.per_subtype} per subtype, seed {args.seed}")
    print("| column | paper | ours | SE | expected | within 3 SE |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        exp = "" if r["expected"] is None else f"{r['expected']:.2f}"
        print(
            f"| {r['column']} | {r['paper']:.1f} | {r['ours']:.1f} | {r['se']:.2f} | {exp} "
            f"| {'yes' if r['within_3se'] else 'NO'} |"
        )
    print(f"({time.perf_counter() - start:.1f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0 if all(r["within_3se"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
