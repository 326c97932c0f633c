"""The heuristic counting solver's VIUBench scores under the old and the new shape placement, side by side.

Version 0.2 keeps every shape inside the central 70 % of the frame (centres drawn with a margin of
0.75 x size, as the reference does); before, centres were drawn from the whole 70 % box, so shapes could
hang over its edge or be cut by the frame. Same videos, seeds and solver; only the margin differs.

Run::

    python tests/perf/heuristic_counting_placement.py [--per-subtype 300] [--max-pixels 262144]
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-subtype", type=int, default=300)
    parser.add_argument("--max-pixels", type=int, default=512 * 512)
    args = parser.parse_args(argv)
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
