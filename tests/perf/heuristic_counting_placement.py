"""The heuristic counting solver's VIUBench scores under the old and the new shape placement, side by side.

Version 0.2 keeps every shape inside the central 70 % of the frame (centres drawn with a margin of
0.75 x size, as the reference does); before, centres were drawn from the whole 70 % box, so shapes could
hang over its edge or be cut by the frame. Same videos, seeds and solver; only the margin differs.

It also prints why the score moves: the share of same-frame shape pairs whose centres are closer than
their mean size (they overlap), under each placement, on flat frames of two shapes (fast).

Run::

    python tests/perf/heuristic_counting_placement.py [--per-subtype 300] [--max-pixels 262144]
    python tests/perf/heuristic_counting_placement.py --overlap-only      # seconds, not half an hour
"""

from __future__ import annotations

import argparse
import sys
import time


def score(per_subtype: int, max_pixels: int, margin: float) -> dict[str, float]:
    import videossr.tasks.counting as counting
    from videossr.errors import VideoError
    from videossr.evaluation.baselines import heuristic_answer
    from videossr.tasks import task_for_subtype
    from videossr.video import load_clip, sample_videos

    clips = []
    for path in sample_videos():
        try:
            clips.append(load_clip(path, max_pixels=max_pixels))
        except VideoError:
            continue
    saved, counting.MARGIN = counting.MARGIN, margin
    try:
        out = {}
        for subtype in ("counting_easy", "counting_hard"):
            task = task_for_subtype(subtype)
            total = 0.0
            for k in range(per_subtype):
                sample = task.generate(clips[k % len(clips)], seed=1000 + k)
                total += task.score(heuristic_answer(sample), sample.answer)
            out[subtype] = 100 * total / per_subtype
        return out
    finally:
        counting.MARGIN = saved


def overlapping_pairs(size: tuple[int, int], difficulty: str, margin: float, seeds: int = 200) -> float:
    """Share of same-frame shape pairs closer than their mean size, over ``seeds`` generated samples."""
    import math

    import numpy as np

    import videossr.tasks.counting as counting
    from videossr import Clip, get_task

    clip = Clip(frames=np.zeros((48, *size, 3), np.uint8), fps=1.6, source="flat")
    task = get_task("object_counting", difficulty=difficulty)
    saved, counting.MARGIN = counting.MARGIN, margin
    try:
        pairs = close = 0
        for seed in range(seeds):
            for placement in task.generate(clip, seed=seed).params["placements"]:
                items = placement["items"]
                for i, a in enumerate(items):
                    for b in items[i + 1 :]:
                        pairs += 1
                        close += math.dist(a["center"], b["center"]) < (a["size"] + b["size"]) / 2
        return close / pairs
    finally:
        counting.MARGIN = saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-subtype", type=int, default=300)
    parser.add_argument("--max-pixels", type=int, default=512 * 512)
    parser.add_argument(
        "--overlap-only", action="store_true", help="skip the solver; print the overlap table"
    )
    args = parser.parse_args(argv)
    print("| frame | difficulty | overlapping pairs, old placement | new placement |")
    print("|---|---|---:|---:|")
    for size in ((288, 512), (512, 512)):
        for difficulty in ("easy", "hard"):
            old_share, new_share = (overlapping_pairs(size, difficulty, m) for m in (0.0, 0.75))
            print(f"| {size[1]}x{size[0]} | {difficulty} | {old_share:.1%} | {new_share:.1%} |")
    if args.overlap_only:
        return 0
    print()
    start = time.perf_counter()
    old = score(args.per_subtype, args.max_pixels, margin=0.0)
    new = score(args.per_subtype, args.max_pixels, margin=0.75)
    print(f"heuristic counting, {args.per_subtype} items per subtype, frames <= {args.max_pixels} px")
    print("| subtype | old placement (no margin) | new placement (0.75 x size margin) |")
    print("|---|---:|---:|")
    for s in old:
        print(f"| {s} | {old[s]:.1f} | {new[s]:.1f} |")
    print(f"({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
