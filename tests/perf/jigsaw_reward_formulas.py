"""The jigsaw reward against the digit-wise formula 0.1 computed by mistake, on random replies.

The paper's reward is ``1 - E / floor(n^2 / 2)`` with ``E`` the displacement of each clip in time,
``sum_k |index of k in reply - index of k in answer|`` (``videossr.tasks.jigsaw``). Version 0.1 computed
``sum_i |reply[i] - answer[i]|`` over the digits. This prints, side by side for 6 and 8 clips: how often
the two disagree, how often they rank two replies to the same question the other way round (the sign of
the GRPO advantage), the mean reward of the reversed true order, and the mean reward of a random order.

Run::

    python tests/perf/jigsaw_reward_formulas.py [--replies 20000] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys


def digitwise(reply: str, answer: str) -> float:
    n = len(answer)
    return 1 - sum(abs(int(a) - int(b)) for a, b in zip(reply, answer)) / (n * n // 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replies", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from videossr import get_task

    jigsaw = get_task("temporal_jigsaw")
    rng = random.Random(args.seed)
    print(f"{args.replies:,} random replies per row")
    print(
        "| clips | replies where they disagree | pairs ranked the other way "
        "| reversed order: 0.1 / paper | random order: paper |"
    )
    print("|---|---:|---:|---:|---:|")
    for n in (6, 8):
        answers = ["".join(rng.sample("123456789"[:n], n)) for _ in range(args.replies)]
        replies = ["".join(rng.sample(a, n)) for a in answers]
        paper = [jigsaw.reward(r, a) for r, a in zip(replies, answers)]
        old = [digitwise(r, a) for r, a in zip(replies, answers)]
        disagree = sum(not math.isclose(x, y) for x, y in zip(paper, old)) / len(paper)
        flips = pairs = 0
        for a in answers:
            r1, r2 = "".join(rng.sample(a, n)), "".join(rng.sample(a, n))
            d_paper, d_old = jigsaw.reward(r1, a) - jigsaw.reward(r2, a), digitwise(r1, a) - digitwise(r2, a)
            if d_paper and d_old:
                pairs += 1
                flips += (d_paper > 0) != (d_old > 0)
        reversed_old = statistics.mean(digitwise(a[::-1], a) for a in answers)
        reversed_paper = statistics.mean(jigsaw.reward(a[::-1], a) for a in answers)
        print(
            f"| {n} | {disagree:.1%} | {flips / pairs:.1%} | {reversed_old:.3f} / {reversed_paper:.3f} | "
            f"{statistics.mean(paper):.3f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
